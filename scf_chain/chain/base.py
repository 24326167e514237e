"""The chain backend interface: one small surface for the embedded EVM, anvil and any JSON-RPC node."""

from __future__ import annotations

import abc
import threading
import weakref
from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from scf_chain.chain.jsonrpc import HttpJsonRpc
from scf_chain.errors import ChainError

# web3's default middleware that our own pipeline makes redundant: we sign locally with the
# chain id read once, estimate gas ourselves and use no ENS names. 'validation' alone asked the
# node for eth_chainId on every gas estimate (a round trip per write).
REDUNDANT_MIDDLEWARE = ("validation", "ens_name_to_address", "gas_price_strategy", "gas_estimate")


def lean_web3(w3: Web3) -> Web3:
    """`w3` without the redundant default middleware (attribute dicts are kept)."""
    for name in REDUNDANT_MIDDLEWARE:
        try:
            w3.middleware_onion.remove(name)
        except ValueError:  # not present in this web3 version
            pass
    return w3


_transports: weakref.WeakKeyDictionary[Any, HttpJsonRpc] = weakref.WeakKeyDictionary()
_transports_lock = threading.Lock()


def http_transport(w3: Web3) -> HttpJsonRpc | None:
    """The lean JSON-RPC client for an HTTP provider's endpoint (one per provider)."""
    provider = w3.provider
    url = getattr(provider, "endpoint_uri", None)
    if not url:
        return None
    with _transports_lock:
        transport = _transports.get(provider)
        if transport is None:
            kwargs = getattr(provider, "_request_kwargs", None) or {}
            timeout = kwargs.get("timeout", 60.0)
            transport = HttpJsonRpc(str(url), float(timeout if timeout else 60.0))
            _transports[provider] = transport
        return transport


def raw_request(w3: Web3, method: str, params: list[Any]) -> Any:
    """A JSON-RPC call's result as the node sent it, without web3's formatting.

    Over HTTP it goes through `HttpJsonRpc` (web3's result formatters and attribute-dict
    middleware checksum and copy every address and log, and `requests` is heavy; for receipts
    and logs that costs more than the request). eth-tester's provider formats inside its own
    middleware, so it goes through web3's request manager (values arrive as Python ints and
    bytes). A node's error becomes `Web3RPCError` carrying the response (revert data included).
    """
    transport = http_transport(w3)
    if transport is not None:
        return transport.request(method, params)
    return w3.manager.request_blocking(method, params)  # type: ignore[arg-type]


@dataclass(frozen=True)
class ChainInfo:
    """What a caller needs to know about a connected chain."""

    backend: str
    chain_id: int
    rpc_url: str | None
    supports_time_control: bool


class ChainBackend(abc.ABC):
    """A connected EVM chain.

    Everything above this class talks to the chain through `w3` (a web3.py `Web3`) and these
    methods; nothing above it knows which backend runs. Dev chains (embedded, anvil) also offer
    funded accounts, snapshots and time control; a production RPC node refuses them with
    `ChainError`.
    """

    name: str = "abstract"
    # A gas limit every sender on this chain uses instead of asking the node to estimate each
    # transaction (None: estimate). For a caller that owns a throw-away chain and only sends
    # transactions it expects to succeed (the risk simulator's market): estimation executes a
    # transaction several times on the node, and a revert is then found on chain instead of
    # before sending (the sender still raises it typed, from a replay).
    send_gas: int | None = None

    def __init__(self) -> None:
        self._chain_id: int | None = None
        # senders whose local nonces must be forgotten when the chain state is reverted
        self._nonce_holders: "weakref.WeakSet[Any]" = weakref.WeakSet()

    def register_nonce_holder(self, holder: Any) -> None:
        """Called by TxSender: a snapshot revert makes it re-read its nonce from the chain."""
        self._nonce_holders.add(holder)

    def unregister_nonce_holder(self, holder: Any) -> None:
        """Called when a TxSender closes: its store may be gone, a later revert must not reach it."""
        self._nonce_holders.discard(holder)

    def _forget_nonces(self) -> None:
        for holder in list(self._nonce_holders):
            holder.forget_nonce()

    @property
    @abc.abstractmethod
    def w3(self) -> Web3:
        """The web3 connection."""

    @property
    def rpc_url(self) -> str | None:
        """An HTTP JSON-RPC URL other processes can use, or None for an in-process chain."""
        return None

    @property
    def supports_time_control(self) -> bool:
        return False

    def chain_id(self) -> int:
        """The chain id (cached: it cannot change under a live connection)."""
        if self._chain_id is None:
            self._chain_id = int(self.w3.eth.chain_id)
        return self._chain_id

    def info(self) -> ChainInfo:
        return ChainInfo(self.name, self.chain_id(), self.rpc_url, self.supports_time_control)

    def dev_accounts(self) -> list[LocalAccount]:
        """Funded accounts with known keys; empty on a production node."""
        return []

    def now(self) -> int:
        """Timestamp of the latest block."""
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def block_number(self) -> int:
        return int(self.w3.eth.block_number)

    # -- dev-chain controls -------------------------------------------------------------------
    def take_snapshot(self) -> Any:
        """Remember the current state; `revert_to_snapshot` returns to it."""
        raise ChainError(f"backend {self.name!r} has no snapshots")

    def revert_to_snapshot(self, snapshot: Any) -> None:
        raise ChainError(f"backend {self.name!r} has no snapshots")

    def time_travel(self, seconds: int) -> int:
        """Move chain time forward by `seconds` and mine a block at that time; returns its timestamp."""
        raise ChainError(f"backend {self.name!r} cannot move time")

    def mine_blocks(self, count: int = 1) -> None:
        raise ChainError(f"backend {self.name!r} cannot mine on demand")

    def close(self) -> None:  # noqa: B027 - a no-op by default, not abstract
        """Release the connection (and stop a node this backend started)."""

    def __enter__(self) -> "ChainBackend":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def accounts_from_keys(keys: list[bytes]) -> list[LocalAccount]:
    return [Account.from_key(k) for k in keys]
