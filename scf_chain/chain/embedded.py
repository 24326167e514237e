"""The embedded chain: eth-tester with py-evm in this process, the default for the demo and unit tests."""

from __future__ import annotations

import threading
from typing import Any, cast

from eth.abc import SignedTransactionAPI, StateAPI
from eth.estimators.gas import binary_gas_search_intrinsic_tolerance
from eth.vm.spoof import SpoofTransaction
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


def _run(state: StateAPI, transaction: SignedTransactionAPI, gas: int) -> Any:
    """The computation of `transaction` with `gas`, its effects undone."""
    snapshot = state.snapshot()
    try:
        spoof = SpoofTransaction(transaction, gas=gas, gas_price=0)  # a transaction with this gas
        return state.apply_transaction(cast(SignedTransactionAPI, spoof))
    finally:
        state.revert(snapshot)


def estimate_gas(state: StateAPI, transaction: SignedTransactionAPI) -> int:
    """Gas enough for `transaction`, found in two runs where py-evm's own estimator takes about
    fourteen (a binary search from the block's gas limit down, a full execution each step: a
    quarter of a second a transaction, most of the embedded chain's time per write).

    Run once with all the block's gas: a failure there is the transaction's own (a revert, an
    invalid opcode) and is raised as py-evm's estimator raises it. The gas it burned (before
    refunds) is what it needs, but for the 63/64 rule: a call forwards at most 63/64 of the gas
    left, so a callee's need must be covered 64/63 times over at each level of nesting; two
    levels (token -> ERC-20 or receiver hook -> their own call) and a call stipend are added,
    and the guess is checked by a run with exactly that gas. Should it fall short (deeper
    nesting), py-evm's binary search decides.
    """
    computation = _run(state, transaction, state.gas_limit)
    if computation.is_error:
        raise computation.error
    needed = transaction.intrinsic_gas + computation.get_gas_used()
    if needed == transaction.intrinsic_gas:
        return needed  # nothing ran (a plain transfer): exactly the intrinsic gas
    guess = needed * 64 * 64 // (63 * 63) + 2_300
    if guess < state.gas_limit and not _run(state, transaction, guess).is_error:
        return guess
    return int(binary_gas_search_intrinsic_tolerance(state, transaction))


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
        # the chain class is made for this backend (eth-tester defines it per instance): setting
        # its estimator touches no other chain. The class's serves the chains a snapshot revert
        # makes; the instance's, set by py-evm at start-up, the current one.
        type(self._backend.chain).gas_estimator = staticmethod(estimate_gas)
        self._backend.chain.gas_estimator = estimate_gas
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
