"""The evidence pass: documents read once, receivables checked, re-checked when a missing
document arrives, an unreadable document retried."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import sessionmaker

from scf_chain.db.models import Base, EvidenceDocument, RiskDocument, RiskReceivable
from scf_chain.errors import DocumentNotFound
from scf_chain.evidence.commit import parse_document
from scf_chain.evidence.models import Document
from scf_chain.risk.evidence import has_new_documents, sync_documents, sync_evidence

BUYER = "0x" + "1" * 40
SELLER = "0x" + "2" * 40


def _docs(tag: str, delivered: str = "2026-09-02") -> dict[str, dict[str, Any]]:
    return {
        "order": {"kind": "purchase_order", "number": f"PO-{tag}", "buyer": BUYER,
                  "seller": SELLER, "issue_date": "2026-09-01", "amount": 1000,
                  "lines": [{"sku": "X", "quantity": 2, "unit_price": 500}]},
        "delivery": {"kind": "logistics", "waybill": f"W-{tag}", "carrier": "SF",
                     "order_number": f"PO-{tag}", "event": "delivered",
                     "timestamp": f"{delivered}T08:00:00Z", "shipper": SELLER,
                     "consignee": BUYER, "signed_by": "gate"},
        "invoice": {"kind": "invoice", "number": f"INV-{tag}", "seller": SELLER, "buyer": BUYER,
                    "order_number": f"PO-{tag}", "amount": 1000, "tax": 0,
                    "issue_date": "2026-09-03"},
    }


class Store:
    def __init__(self) -> None:
        engine = create_engine("sqlite://")
        Base.metadata.create_all(engine)
        self.sessions = sessionmaker(engine, expire_on_commit=False)
        self.docs: dict[str, Document] = {}
        self.broken: set[str] = set()
        self.n = 0

    def read(self, doc_id: str) -> Document:
        if doc_id in self.broken:
            raise DocumentNotFound(doc_id)
        return self.docs[doc_id]

    def submit(self, data: dict[str, Any], at: int = 1_000) -> str:
        doc = parse_document(data)
        self.n += 1
        doc_id = f"doc-{self.n}"
        key = "0x" + doc.doc_key(SELLER).hex()
        self.docs[doc_id] = doc
        with self.sessions() as s, s.begin():
            s.add(EvidenceDocument(doc_id=doc_id, owner="sup", doc_type=doc.doc_type,
                                   number=str(self.n), doc_key=key, fields_root="0x" + "0" * 64,
                                   doc_hash="0x" + "0" * 64, leaf="0x" + "0" * 64,
                                   created_at=at))
        return key

    def receivable(self, slot: int, invoice_key: str, face: int = 1000) -> None:
        with self.sessions() as s, s.begin():
            s.add(RiskReceivable(
                slot=slot, debtor=BUYER, creditor=SELLER, face_value=face, maturity=10**10,
                invoice_key=invoice_key, status="active", applied_at=0, repaid=0, repayments=0,
                financings=0, financed_value=0, financed_price=0, tokens=1, max_depth=0,
                max_fanout=0, evidence_checked=False))

    def sync(self) -> Any:
        with self.sessions() as s, s.begin():
            return sync_evidence(s, self.read)

    def get(self, slot: int) -> RiskReceivable:
        with self.sessions() as s:
            r = s.get(RiskReceivable, slot)
            assert r is not None
            return r


@pytest.fixture
def st() -> Iterator[Store]:
    yield Store()


def test_a_sound_trade_is_complete_and_consistent(st: Store) -> None:
    d = _docs("ok")
    st.submit(d["order"])
    st.submit(d["delivery"])
    st.receivable(1, st.submit(d["invoice"]))
    p = st.sync()
    assert (p.documents, p.receivables) == (3, 1)
    r = st.get(1)
    assert (r.has_order, r.has_delivery, r.has_invoice, r.consistency) == (True, True, True, "ok")
    assert r.delivered_at is not None
    assert st.sync().documents == 0  # each document is read once


@pytest.mark.parametrize(("change", "code"), [
    ({"delivery": {"timestamp": "2026-09-05T08:00:00Z"}}, "delivered_after_invoice"),
    ({"invoice": {"amount": 1500}}, "invoice_exceeds_order"),
    ({"delivery": {"event": "in_transit", "signed_by": None}}, "no_delivery"),
])
def test_mismatches_carry_the_cross_check_code(st: Store, change: dict[str, Any],
                                                code: str) -> None:
    d = _docs("bad")
    for kind, fields in change.items():
        d[kind] = {**d[kind], **fields}
    st.submit(d["order"])
    st.submit(d["delivery"])
    st.receivable(1, st.submit(d["invoice"]), face=1000)
    st.sync()
    assert st.get(1).consistency == code


def test_an_invoice_without_delivery_is_rechecked_when_the_delivery_arrives(st: Store) -> None:
    d = _docs("late")
    st.submit(d["order"])
    st.receivable(1, st.submit(d["invoice"]))
    st.sync()
    r = st.get(1)
    assert (r.has_delivery, r.consistency) == (False, "no_delivery")
    st.submit(d["delivery"], at=2_000)
    p = st.sync()
    assert (p.documents, p.receivables) == (1, 1)
    assert st.get(1).consistency == "ok"


def test_documents_read_alone_leave_the_recheck_to_the_next_pass(st: Store) -> None:
    """What a risk gate runs (documents only): the delivery's facts are read at once, and the
    receivable it concerns is marked for the next whole pass, not checked there and then."""
    d = _docs("gate")
    st.submit(d["order"])
    st.receivable(1, st.submit(d["invoice"]))
    st.sync()
    assert st.get(1).consistency == "no_delivery"
    with st.sessions() as s:
        assert not has_new_documents(s)
    st.submit(d["delivery"], at=2_000)
    with st.sessions() as s, s.begin():
        assert has_new_documents(s)
        assert sync_documents(s, st.read) == 1
    with st.sessions() as s:
        assert not has_new_documents(s)
        assert s.scalar(select(func.count()).select_from(RiskDocument)) == 3
    r = st.get(1)
    assert (r.evidence_checked, r.consistency) == (False, "no_delivery")
    p = st.sync()
    assert (p.documents, p.receivables) == (0, 1)
    assert st.get(1).consistency == "ok"


def test_no_invoice_document_for_the_chain_key(st: Store) -> None:
    st.receivable(1, "0x" + "9" * 64)
    st.sync()
    assert st.get(1).consistency == "no_invoice" and st.get(1).has_invoice is False


def test_an_unreadable_document_is_retried(st: Store) -> None:
    d = _docs("gone")
    st.submit(d["order"])
    st.broken.add("doc-1")
    st.submit(d["delivery"])
    st.receivable(1, st.submit(d["invoice"]))
    st.sync()
    with st.sessions() as s:
        assert s.scalar(select(func.count()).select_from(RiskDocument)) == 2
    assert st.get(1).consistency == "no_order"
    st.broken.clear()
    assert st.sync().documents == 1
    assert st.get(1).consistency == "ok"


