"""The one place where the Solidity compiler version and settings are pinned."""

from __future__ import annotations

from typing import Any

SOLC_VERSION = "0.8.37"
OPTIMIZER_RUNS = 200
EVM_VERSION = "cancun"
# Every EVM version the contracts are built for, newest first. Cancun artifacts sit in
# artifacts/, every other target's in artifacts/<target>/. Paris (the Merge) is the newest
# fork before PUSH0 (Shanghai), transient storage and MCOPY (Cancun): the fork many
# permissioned networks (Besu/QBFT, GoQuorum) still run.
EVM_TARGETS = ("cancun", "paris")
# Target-specific sources: contracts import "@scf/guard/..." and the build maps it to
# contracts/guard/<target>/ (transient-storage reentrancy guard on Cancun, storage-based before).
GUARD_IMPORT = "@scf/guard/"
GUARD_DIR = "contracts/guard"

# The sources folder and the contracts whose artifacts ship with the package. Interfaces,
# abstract contracts and internal libraries have no bytecode and are skipped automatically.
SOURCES_DIR = "contracts"


def remappings(evm_version: str = EVM_VERSION) -> list[str]:
    """The import remappings of one target's build (its reentrancy guard)."""
    return [f"{GUARD_IMPORT}={GUARD_DIR}/{evm_version}/"]


def compiler_settings(for_analysis: bool = False, evm_version: str = EVM_VERSION) -> dict[str, Any]:
    """Standard-JSON `settings` for one EVM target. `for_analysis` adds the AST for slither."""
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
        "evmVersion": evm_version,
        "remappings": remappings(evm_version),
        "viaIR": False,
        "metadata": {"bytecodeHash": "ipfs"},
        "outputSelection": selection,
    }
