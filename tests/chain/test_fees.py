"""The sender picks the transaction type by what the node reports: base fee or not, gas price."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scf_chain.chain.ganache import GanacheChain
from scf_chain.chain.sender import TxSender, fee_fields


def _never() -> int:
    raise AssertionError("an EIP-1559 fee needs no gas price from the node")


@given(st.integers(min_value=1, max_value=10**15))
def test_a_base_fee_gives_an_eip1559_fee_that_covers_its_doubling(base: int) -> None:
    fees = fee_fields(base, _never)
    assert set(fees) == {"maxFeePerGas", "maxPriorityFeePerGas"}
    assert fees["maxFeePerGas"] >= 2 * base + fees["maxPriorityFeePerGas"]


@pytest.mark.parametrize("base", [None, 0])
@given(price=st.integers(min_value=0, max_value=10**12))
def test_no_base_fee_or_a_zero_one_gives_a_legacy_fee_at_the_nodes_price(base: int | None,
                                                                          price: int) -> None:
    assert fee_fields(base, lambda: price) == {"gasPrice": price}


def test_a_zero_fee_pre_london_network_takes_legacy_transactions_at_no_cost() -> None:
    """ganache on Berlin with gas price 0: blocks carry no base fee, as on many consortium
    chains; the sender signs type 0 transactions at gas price 0 and no ether is spent."""
    with GanacheChain(hardfork="berlin", gas_price=0) as chain:
        assert "baseFeePerGas" not in chain.w3.eth.get_block("latest")
        sender = TxSender(chain, chain.dev_accounts()[1])
        before = chain.w3.eth.get_balance(sender.address)
        rcpt = sender.send(chain.dev_accounts()[2].address, b"", 5)
        tx = chain.w3.eth.get_transaction(rcpt.tx_hash)
        assert int(tx["type"]) == 0 and int(tx["gasPrice"]) == 0
        assert chain.w3.eth.get_balance(sender.address) == before - 5
