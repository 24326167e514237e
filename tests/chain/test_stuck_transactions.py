"""A transaction the node dropped, a gap below a transaction, and a fee too low for the node:
the sender's wait makes each minable (sent again, gap filled, replaced with higher fees), on an
anvil node mining one block a second."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from eth_account import Account

from scf_chain.chain import sender as sender_module
from scf_chain.chain.anvil import AnvilChain
from scf_chain.chain.sender import TxSender

pytestmark = pytest.mark.anvil
VALUE = 12_345


@pytest.fixture()
def node(monkeypatch: pytest.MonkeyPatch) -> Iterator[AnvilChain]:
    monkeypatch.setattr(sender_module, "STUCK_S", 1.0)
    chain = AnvilChain()
    try:
        chain._rpc("evm_setAutomine", [False])
        chain._rpc("evm_setIntervalMining", [1])
        yield chain
    finally:
        chain.close()


def _rpc(chain: AnvilChain, method: str, params: list[Any]) -> Any:
    return chain._rpc(method, params)


def _count(chain: AnvilChain, address: str) -> int:
    return int(chain.w3.eth.get_transaction_count(address, "latest"))  # type: ignore[arg-type]


def test_a_gap_left_by_a_dropped_transaction_is_filled(node: AnvilChain) -> None:
    sender = TxSender(node, node.dev_accounts()[3], receipt_timeout_s=120)
    to = Account.create().address
    first = sender.send_raw(to, b"", VALUE, gas=21_000)
    _rpc(node, "anvil_dropTransaction", [first])
    second = sender.send_raw(to, b"", VALUE, gas=21_000)  # queued behind the missing nonce
    before = _count(node, sender.address)
    receipt = sender.wait(second)
    assert receipt.tx_hash == second
    assert _count(node, sender.address) == before + 2  # the gap's nonce went to a filler
    assert node.w3.eth.get_balance(to) == VALUE  # the dropped transfer never happened
    assert _rpc(node, "eth_getTransactionReceipt", [first]) is None


def test_a_dropped_transaction_is_sent_again(node: AnvilChain) -> None:
    sender = TxSender(node, node.dev_accounts()[4], receipt_timeout_s=120)
    to = Account.create().address
    tx = sender.send_raw(to, b"", VALUE, gas=21_000)
    _rpc(node, "anvil_dropTransaction", [tx])
    assert sender.wait(tx).tx_hash == tx
    assert node.w3.eth.get_balance(to) == VALUE


def test_a_transaction_next_in_line_and_not_mined_is_replaced_with_higher_fees(
        node: AnvilChain) -> None:
    sender = TxSender(node, node.dev_accounts()[5], receipt_timeout_s=120)
    to = Account.create().address
    _rpc(node, "evm_setIntervalMining", [0])  # the node mines nothing until told
    nonce = _count(node, sender.address)
    tx = sender.send_raw(to, b"", VALUE, gas=21_000)
    fee = int(node.w3.eth.get_transaction(tx)["maxFeePerGas"])  # type: ignore[arg-type]
    answers: list[Any] = []
    waiting = threading.Thread(target=lambda: answers.append(sender.wait(tx)), daemon=True)
    waiting.start()
    deadline = time.monotonic() + 60
    while len([h for h, (t, _) in sender._sent.items() if t.nonce == nonce]) < 2:
        assert time.monotonic() < deadline, "no replacement"
        time.sleep(0.1)
    _rpc(node, "evm_mine", [])
    waiting.join(timeout=60)
    receipt = answers[0]
    assert receipt.tx_hash != tx  # the replacement was mined, at the same nonce
    mined = node.w3.eth.get_transaction(receipt.tx_hash)  # type: ignore[arg-type]
    assert int(mined["nonce"]) == nonce
    assert int(mined["maxFeePerGas"]) >= fee * 1.25
    assert _rpc(node, "eth_getTransactionReceipt", [tx]) is None
    assert node.w3.eth.get_balance(to) == VALUE  # once
