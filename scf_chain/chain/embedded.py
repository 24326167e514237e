"""The embedded chain: eth-tester with py-evm in this process, the default for the demo and unit tests."""

from __future__ import annotations

import threading
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_tester import EthereumTester, PyEVMBackend
from web3 import Web3
from web3.providers.eth_tester import EthereumTesterProvider

from scf_chain.chain.base import ChainBackend, accounts_from_keys, lean_web3

# Enough dev accounts for every role in the demo and the tests, each rich in test ether.
DEV_ACCOUNT_COUNT = 20
DEV_ACCOUNT_BALANCE_WEI = 10**24
# Blocks roomy enough for a batch redemption of many tokens.
GENESIS_GAS_LIMIT = 60_000_000


class _LockedTesterProvider(EthereumTesterProvider):
    """eth-tester is not thread-safe; the API server, keeper and indexer share one chain."""

    def __init__(self, tester: EthereumTester, lock: threading.RLock) -> None:
        super().__init__(tester)
        self._lock = lock

    def make_request(self, method: Any, params: Any) -> Any:
        with self._lock:
            return super().make_request(method, params)


class EmbeddedChain(ChainBackend):
    """An in-process EVM (py-evm). Auto-mines one block per transaction."""

    name = "embedded"

    def __init__(self, account_count: int = DEV_ACCOUNT_COUNT) -> None:
        super().__init__()
        overrides = {"gas_limit": GENESIS_GAS_LIMIT}
        params = PyEVMBackend.generate_genesis_params(overrides=overrides)
        state = PyEVMBackend.generate_genesis_state(
            overrides={"balance": DEV_ACCOUNT_BALANCE_WEI}, num_accounts=account_count
        )
        self._backend = PyEVMBackend(genesis_parameters=params, genesis_state=state)
        self.tester = EthereumTester(self._backend)
        self.lock = threading.RLock()
        self._w3 = lean_web3(Web3(_LockedTesterProvider(self.tester, self.lock)))
        self._accounts = accounts_from_keys([k.to_bytes() for k in self._backend.account_keys])

    @property
    def w3(self) -> Web3:
        return self._w3

    @property
    def supports_time_control(self) -> bool:
        return True

    def dev_accounts(self) -> list[LocalAccount]:
        return list(self._accounts)

    def take_snapshot(self) -> Any:
        with self.lock:
            return self.tester.take_snapshot()

    def revert_to_snapshot(self, snapshot: Any) -> None:
        with self.lock:
            self.tester.revert_to_snapshot(snapshot)
            self._forget_nonces()

    def time_travel(self, seconds: int) -> int:
        with self.lock:
            target = self.now() + max(int(seconds), 1)
            pending = int(self.tester.get_block_by_number("pending")["timestamp"])
            if target <= pending:
                # the pending block is already that late (its time follows the wall clock, and
                # an earlier travel leaves it ahead): travelling there would go backwards
                self.tester.mine_blocks(1)
                return self.now()
            self.tester.time_travel(target)
            # py-evm's mined block can land a second short of the requested time
            if self.now() < target:
                self.tester.time_travel(target + (target - self.now()))
            return self.now()

    def mine_blocks(self, count: int = 1) -> None:
        with self.lock:
            self.tester.mine_blocks(count)
