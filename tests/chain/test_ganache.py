"""ganache's refusals become our typed errors, and `scf chain up` serves it (its revert shapes
are tested with every other node's in test_sender.py)."""

from __future__ import annotations

import signal
import subprocess
import sys
from typing import Any

import pytest
from eth_account import Account

from scf_chain.chain import forks
from scf_chain.chain.ganache import GANACHE_CHAIN_ID, GanacheChain
from scf_chain.chain.rpc import RpcChain
from scf_chain.chain.sender import TxSender
from scf_chain.contracts import artifacts
from scf_chain.errors import InsufficientGas


@pytest.fixture()
def token(ganache_chain: GanacheChain) -> tuple[TxSender, Any]:
    sender = TxSender(ganache_chain, ganache_chain.dev_accounts()[12])
    art = artifacts.load("TestSettlementToken", "paris")
    rcpt = sender.deploy(art.abi, art.bytecode)
    return sender, ganache_chain.w3.eth.contract(address=rcpt.contract_address, abi=art.abi)


def test_a_sender_without_gas_is_refused_as_insufficient_gas(ganache_chain: GanacheChain,
                                                             token: tuple[TxSender, Any]) -> None:
    _, erc20 = token
    poor = TxSender(ganache_chain, Account.create())
    with pytest.raises(InsufficientGas) as info:
        poor.transact(erc20.functions.mint(poor.address, 1), gas=100_000)
    assert info.value.balance_wei == 0 and info.value.needed_wei > 0


def test_scf_chain_up_serves_ganache_on_the_fork_asked_for() -> None:
    """`scf chain up --backend ganache --hardfork merge`: a Paris-rules node other processes use."""
    proc = subprocess.Popen([sys.executable, "-m", "scf_chain.cli", "chain", "up", "--backend",
                             "ganache", "--hardfork", "merge"], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("RPC URL: "), first
        rpc = RpcChain(first.removeprefix("RPC URL: ").strip(), allow_dev_methods=True)
        assert rpc.chain_id() == GANACHE_CHAIN_ID
        assert forks.probe(rpc).supported == frozenset()  # Paris: not even PUSH0
        assert forks.select_evm_version(rpc) == "paris"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=120) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
