"""Which EVM a node runs (probed, opcode by opcode) and which contract build it can execute."""

from __future__ import annotations

from dataclasses import dataclass

from scf_chain.chain.base import ChainBackend, raw_request
from scf_chain.contracts.settings import EVM_TARGETS
from scf_chain.errors import ChainError, DeploymentError


@dataclass(frozen=True)
class Opcode:
    """An opcode newer than Paris: the fork that brought it, and init code that runs it and
    stops (executed by eth_call as a contract creation: nothing is sent, nothing kept)."""

    name: str
    fork: str
    probe: str


POST_PARIS = (
    Opcode("PUSH0", "shanghai", "0x5f00"),             # PUSH0 STOP
    Opcode("TLOAD", "cancun", "0x60005c00"),           # PUSH1 0 TLOAD STOP
    Opcode("TSTORE", "cancun", "0x600160005d00"),      # PUSH1 1 PUSH1 0 TSTORE STOP
    Opcode("MCOPY", "cancun", "0x6000600060005e00"),   # 3x PUSH1 0, MCOPY, STOP
)
_STOP = "0x00"

# What each build may execute beyond Paris. solc emits these only when compiling for a fork that
# has them, and refuses them in assembly below it, so a target's needs are known from the target
# (a linear read of the bytecode cannot tell code from the data solc appends after it).
TARGET_NEEDS: dict[str, frozenset[str]] = {
    "cancun": frozenset(op.name for op in POST_PARIS),
    "paris": frozenset(),
}


def opcodes_needed(evm_version: str) -> frozenset[str]:
    """The post-Paris opcodes the `evm_version` build of the contracts may run."""
    try:
        return TARGET_NEEDS[evm_version]
    except KeyError:
        raise DeploymentError(f"no contract build for EVM version {evm_version!r}; built: "
                              f"{', '.join(EVM_TARGETS)} (or auto)") from None


@dataclass(frozen=True)
class NodeEvm:
    """What a probe learnt of a node: the post-Paris opcodes it runs, and why the others failed."""

    client: str
    supported: frozenset[str]
    refusals: dict[str, str]

    def lacks(self, needed: frozenset[str]) -> list[str]:
        return sorted(needed - self.supported)


def _call(chain: ChainBackend, code: str) -> None:
    raw_request(chain.w3, "eth_call", [{"data": code}, "latest"])


def _reason(exc: BaseException) -> str:
    rpc = getattr(exc, "rpc_response", None)
    if isinstance(rpc, dict) and isinstance(rpc.get("error"), dict):
        return str(rpc["error"].get("message", exc))
    return str(exc)


def probe(chain: ChainBackend) -> NodeEvm:
    """Run each post-Paris opcode on the node (eth_call of a creation: no transaction, no gas
    spent). ChainError if the node cannot run even a bare STOP that way (then nothing can be
    learnt from the probes)."""
    try:
        _call(chain, _STOP)
    except Exception as exc:
        raise ChainError(f"cannot probe the node's EVM: eth_call of a creation running STOP "
                         f"failed: {_reason(exc)}") from exc
    supported: set[str] = set()
    refusals: dict[str, str] = {}
    for op in POST_PARIS:
        try:
            _call(chain, op.probe)
        except Exception as exc:
            refusals[op.name] = _reason(exc)
        else:
            supported.add(op.name)
    try:
        client = str(raw_request(chain.w3, "web3_clientVersion", []))
    except Exception:  # optional: the probes are what counts
        client = "unknown client"
    return NodeEvm(client, frozenset(supported), refusals)


def select_evm_version(chain: ChainBackend, requested: str | None = None,
                       node: NodeEvm | None = None) -> str:
    """The contract build to deploy on `chain`: `requested` if the node runs every opcode it
    needs, or with None/"auto" the newest build it runs. DeploymentError, naming the missing
    opcodes and the build that would run, otherwise."""
    node = node or probe(chain)
    fits = [t for t in EVM_TARGETS if not node.lacks(opcodes_needed(t))]
    if requested in (None, "", "auto"):
        if not fits:
            raise DeploymentError(f"no contract build runs on this node ({node.client}): even "
                                  f"the {EVM_TARGETS[-1]} build needs "
                                  f"{', '.join(node.lacks(opcodes_needed(EVM_TARGETS[-1])))}")
        return fits[0]
    missing = node.lacks(opcodes_needed(requested))
    if missing:
        reasons = sorted({node.refusals.get(m, "refused") for m in missing})
        why = "; ".join(reasons)
        hint = (f"deploy the {fits[0]} build (SCF_EVM_VERSION={fits[0]}, or auto)" if fits
                else "no build of the contracts runs on it")
        raise DeploymentError(
            f"the {requested} build of the contracts needs {', '.join(missing)}, which the node "
            f"({node.client}) does not run ({why}); {hint}. Nothing was sent.")
    return requested

