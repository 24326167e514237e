"""Chain backends (embedded, anvil, ganache, rpc) behind one interface, and the transaction sender."""

from __future__ import annotations

from typing import TYPE_CHECKING

from scf_chain.chain.base import ChainBackend, ChainInfo
from scf_chain.errors import ConfigError

if TYPE_CHECKING:
    from scf_chain.config import Settings

BACKENDS = ("embedded", "anvil", "ganache", "rpc")


def connect(settings: "Settings | None" = None) -> ChainBackend:
    """Open the chain the settings name. The caller owns it and must `close()` it."""
    from scf_chain.config import get_settings

    s = settings or get_settings()
    if s.chain_backend == "embedded":
        from scf_chain.chain.embedded import EmbeddedChain

        return EmbeddedChain()
    if s.chain_backend == "anvil":
        from scf_chain.chain.anvil import AnvilChain

        return AnvilChain(host=s.anvil_host, port=s.anvil_port,
                          keep_states=s.anvil_keep_states)
    if s.chain_backend == "ganache":
        from scf_chain.chain.ganache import GanacheChain

        return GanacheChain(host=s.anvil_host, port=s.anvil_port)
    if s.chain_backend == "rpc":
        from scf_chain.chain.rpc import RpcChain

        if not s.rpc_url:
            raise ConfigError("SCF_CHAIN_BACKEND=rpc needs SCF_RPC_URL")
        return RpcChain(s.rpc_url, allow_dev_methods=s.rpc_dev_methods)
    raise ConfigError(f"unknown chain backend {s.chain_backend!r}; choose one of {BACKENDS}")


__all__ = ["BACKENDS", "ChainBackend", "ChainInfo", "connect"]
