"""Document keys are scoped to their submitter; invoice keys (consumed on chain) and keys of
documents stored before scoping are unchanged."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from scf_chain.evidence import canonical
from scf_chain.evidence.commit import SaltedDocument
from scf_chain.evidence.merkle import keccak
from tests.evidence.factories import trade

BUYER, SELLER = "0x" + "11" * 20, "0x" + "22" * 20
addresses = st.binary(min_size=20, max_size=20).map(lambda b: "0x" + b.hex())


@settings(max_examples=50, deadline=None)
@given(x=addresses, y=addresses)
def test_order_and_waybill_keys_belong_to_their_submitter(x: str, y: str) -> None:
    order, delivery, invoice = trade(BUYER, SELLER)
    for doc in (order, delivery):
        assert (doc.doc_key(x) == doc.doc_key(y)) == (x.lower() == y.lower())
        assert doc.doc_key(x) != doc.doc_key()
    # the invoice key is the one the receivable contract consumes: the seller's, always
    assert invoice.doc_key(x) == invoice.doc_key() == keccak(canonical.dumps(
        {"type": "invoice", "seller": invoice.seller, "number": invoice.number}))


def test_unscoped_keys_are_those_of_documents_stored_before() -> None:
    order, delivery, _ = trade(BUYER, SELLER)
    assert order.doc_key() == keccak(canonical.dumps(
        {"type": "purchase_order", "buyer": order.buyer, "number": order.number}))
    assert delivery.doc_key() == keccak(canonical.dumps(
        {"type": "logistics", "carrier": "SF Express", "waybill": delivery.waybill,
         "event": "delivered"}))


def test_the_submitter_survives_storage_and_keeps_the_leaf() -> None:
    for doc in trade(BUYER, SELLER):
        scoped = SaltedDocument.create(doc, submitter=SELLER)
        again = SaltedDocument.from_json(json.loads(json.dumps(scoped.to_json())))
        assert (again.submitter, again.doc_key, again.leaf) == (SELLER, scoped.doc_key,
                                                                scoped.leaf)
        legacy = SaltedDocument.create(doc)
        stored = legacy.to_json()
        assert "submitter" not in stored  # a document stored before scoping reads back the same
        assert SaltedDocument.from_json(stored).leaf == legacy.leaf
