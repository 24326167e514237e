"""The transaction journal hook of TxSender: every transaction signed inside `journaling` is
recorded before the node sees it, and a replayed send waits for the journaled transaction
instead of signing a second one."""

from __future__ import annotations

from typing import Any

from scf_chain.chain.base import raw_request
from scf_chain.chain.embedded import EmbeddedChain
from scf_chain.chain.sender import SignedTx, TxSender, call_hash, journaling


class Recorder:
    def __init__(self, chain: EmbeddedChain, replay: list[str] | None = None) -> None:
        self.chain, self.replay = chain, list(replay or [])
        self.recorded: list[SignedTx] = []
        self.seen_by_node_at_record: list[Any] = []
        self.matched: list[tuple[str, str]] = []

    def match(self, sender: str, what: str) -> str | None:
        self.matched.append((sender, what))
        return self.replay.pop(0) if self.replay else None

    def record(self, tx: SignedTx) -> None:
        self.seen_by_node_at_record.append(
            raw_request(self.chain.w3, "eth_getTransactionByHash", [tx.tx_hash]))
        self.recorded.append(tx)

    def refused(self, tx: SignedTx) -> None:
        raise AssertionError("nothing is refused here")

    def read_block(self) -> int | str:
        return "latest"


def test_a_signed_transaction_is_journaled_before_the_node_sees_it(
        embedded_chain: EmbeddedChain) -> None:
    account = embedded_chain.dev_accounts()[3]
    sender = TxSender(embedded_chain, account)
    to = embedded_chain.dev_accounts()[4].address
    journal = Recorder(embedded_chain)
    with journaling(journal):
        first = sender.send(to, b"", 7)
        second = sender.send(to, b"\x01", 0)
    outside = sender.send(to, b"", 1)  # not journaled outside the context
    assert [t.tx_hash for t in journal.recorded] == [first.tx_hash, second.tx_hash]
    assert journal.seen_by_node_at_record == [None, None]  # recorded before the broadcast
    assert journal.recorded[0].call_hash == call_hash(account.address, to, 7, b"")
    assert journal.recorded[1].nonce == journal.recorded[0].nonce + 1
    assert outside.tx_hash not in [t.tx_hash for t in journal.recorded]
    # the raw bytes are the transaction the node mined
    mined = embedded_chain.w3.eth.get_transaction(first.tx_hash)
    assert mined["nonce"] == journal.recorded[0].nonce


def test_a_replayed_send_waits_for_the_journaled_transaction(
        embedded_chain: EmbeddedChain) -> None:
    account = embedded_chain.dev_accounts()[5]
    sender = TxSender(embedded_chain, account)
    to = embedded_chain.dev_accounts()[6].address
    done = sender.send(to, b"", 11)
    nonce = embedded_chain.w3.eth.get_transaction_count(account.address)
    journal = Recorder(embedded_chain, replay=[done.tx_hash])
    with journaling(journal):
        again = sender.send(to, b"", 11)
    assert again.tx_hash == done.tx_hash and again.block_number == done.block_number
    assert journal.recorded == []  # nothing signed
    assert embedded_chain.w3.eth.get_transaction_count(account.address) == nonce
    assert journal.matched == [(sender.address, call_hash(account.address, to, 11, b""))]
