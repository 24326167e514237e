"""ganache's own error shapes become the same typed errors as anvil's and eth-tester's."""

from __future__ import annotations

from typing import Any

import pytest
from eth_account import Account

from scf_chain.chain import reverts
from scf_chain.chain.ganache import GanacheChain
from scf_chain.chain.sender import TxSender
from scf_chain.contracts import artifacts
from scf_chain.errors import InsufficientGas


@pytest.fixture()
def token(ganache_chain: GanacheChain) -> tuple[TxSender, Any]:
    sender = TxSender(ganache_chain, ganache_chain.dev_accounts()[12])
    art = artifacts.load("TestSettlementToken", "paris")
    rcpt = sender.deploy(art.abi, art.bytecode)
    return sender, ganache_chain.w3.eth.contract(address=rcpt.contract_address, abi=art.abi)


def test_a_revert_found_by_gas_estimation_is_typed(token: tuple[TxSender, Any]) -> None:
    # ganache nests the revert data of a gas estimate under error.data.result
    sender, erc20 = token
    with pytest.raises(reverts.ERC20InsufficientBalance) as info:
        sender.transact(erc20.functions.transfer(sender.address, 5))
    assert info.value.error_args["needed"] == 5 and info.value.tx_hash is None


def test_a_transaction_that_reverts_on_chain_is_typed_from_its_replay(
        token: tuple[TxSender, Any]) -> None:
    # with a gas limit given there is no estimate: ganache mines the failed transaction
    sender, erc20 = token
    with pytest.raises(reverts.ERC20InsufficientBalance) as info:
        sender.transact(erc20.functions.transfer(sender.address, 7), gas=100_000)
    assert info.value.tx_hash is not None and info.value.error_args["needed"] == 7


def test_a_sender_without_gas_is_refused_as_insufficient_gas(ganache_chain: GanacheChain,
                                                             token: tuple[TxSender, Any]) -> None:
    _, erc20 = token
    poor = TxSender(ganache_chain, Account.create())
    with pytest.raises(InsufficientGas) as info:
        poor.transact(erc20.functions.mint(poor.address, 1), gas=100_000)
    assert info.value.balance_wei == 0 and info.value.needed_wei > 0
