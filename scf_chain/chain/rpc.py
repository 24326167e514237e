"""Any EVM JSON-RPC node (geth, Besu/QBFT, a hosted endpoint) given by URL."""

from __future__ import annotations

from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address
from web3 import Web3
from web3.providers.rpc import HTTPProvider

from scf_chain.chain.base import ChainBackend, lean_web3
from scf_chain.errors import ChainError


class RpcChain(ChainBackend):
    """A node we did not start. Time control works only if the node offers the evm_* methods
    (geth --dev and Besu do not; anvil and hardhat-compatible nodes do)."""

    name = "rpc"

    def __init__(self, url: str, timeout_s: float = 60.0, allow_dev_methods: bool = False) -> None:
        super().__init__()
        if not url:
            raise ChainError("the rpc backend needs an RPC URL (SCF_RPC_URL)")
        self._url = url
        self._allow_dev = allow_dev_methods
        self._dev_accounts: list[LocalAccount] | None = None
        self._w3 = lean_web3(Web3(HTTPProvider(url, request_kwargs={"timeout": timeout_s})))
        try:
            self._chain_id = int(self._w3.eth.chain_id)
        except Exception as exc:  # connection refused, DNS, bad JSON
            raise ChainError(f"cannot reach JSON-RPC node at {url}: {exc}") from exc

    @property
    def w3(self) -> Web3:
        return self._w3

    @property
    def rpc_url(self) -> str:
        return self._url

    @property
    def supports_time_control(self) -> bool:
        return self._allow_dev

    def _dev(self, method: str, params: list[Any]) -> Any:
        if not self._allow_dev:
            raise ChainError(f"{method}: dev methods are disabled for this rpc backend")
        resp = self._w3.provider.make_request(method, params)  # type: ignore[arg-type]
        if "error" in resp:
            raise ChainError(f"{method} failed: {resp['error']}")
        return resp.get("result")

    def take_snapshot(self) -> Any:
        return self._dev("evm_snapshot", [])

    def revert_to_snapshot(self, snapshot: Any) -> None:
        if not self._dev("evm_revert", [snapshot]):
            raise ChainError(f"snapshot {snapshot} is unknown")
        self._forget_nonces()

    def time_travel(self, seconds: int) -> int:
        self._dev("evm_increaseTime", [max(int(seconds), 1)])
        self._dev("evm_mine", [])
        return self.now()

    def dev_accounts(self) -> list[LocalAccount]:
        """With dev methods allowed, the node is taken for a dev node: if it was started with the
        standard test mnemonic (anvil's and hardhat's default) and its first account holds ether,
        those accounts are the dev accounts (gas for new participants, the dev faucet).
        Otherwise, and always on production nodes, there are none."""
        if not self._allow_dev:
            return []
        if self._dev_accounts is None:
            from scf_chain.chain.anvil import anvil_dev_accounts

            accounts = anvil_dev_accounts()
            funded = int(self._w3.eth.get_balance(to_checksum_address(accounts[0].address)))
            self._dev_accounts = accounts if funded else []
        return list(self._dev_accounts)

    def mine_blocks(self, count: int = 1) -> None:
        for _ in range(count):
            self._dev("evm_mine", [])
