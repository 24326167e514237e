"""The one place where the Solidity compiler version and settings are pinned."""

from __future__ import annotations

from typing import Any

SOLC_VERSION = "0.8.37"
OPTIMIZER_RUNS = 200
EVM_VERSION = "cancun"

# The sources folder and the contracts whose artifacts ship with the package. Interfaces,
# abstract contracts and internal libraries have no bytecode and are skipped automatically.
SOURCES_DIR = "contracts"


def compiler_settings(for_analysis: bool = False) -> dict[str, Any]:
    """Standard-JSON `settings`. `for_analysis` adds the AST for slither."""
    selection: dict[str, Any] = {
        "*": {
            "*": [
                "abi",
                "metadata",
                "evm.bytecode.object",
                "evm.bytecode.linkReferences",
                "evm.deployedBytecode.object",
                "evm.deployedBytecode.immutableReferences",
                "evm.methodIdentifiers",
                "storageLayout",
            ]
        }
    }
    if for_analysis:
        selection["*"][""] = ["ast"]
        selection["*"]["*"] += ["evm.bytecode.sourceMap", "evm.deployedBytecode.sourceMap"]
    return {
        "optimizer": {"enabled": True, "runs": OPTIMIZER_RUNS},
        "evmVersion": EVM_VERSION,
        "viaIR": False,
        "metadata": {"bytecodeHash": "ipfs"},
        "outputSelection": selection,
    }
