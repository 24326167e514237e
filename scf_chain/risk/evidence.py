"""Evidence features: document facts read once from the encrypted store, linked to receivables and cross-checked.

Trade documents live off chain (encrypted); the indexer never sees them. This pass reads each
newly submitted document once, keeps the facts the risk engine links and counts (kind, order
number, parties, amount, date) in `risk_documents`, and for each receivable whose evidence is
unchecked, or touched by a new document, finds its invoice (the key the chain holds), the order
and the delivery of that invoice's order, and runs the platform's own cross-document check
(`scf_chain.evidence.crosscheck.check_trade`) on them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime

from eth_utils import to_checksum_address
from sqlalchemy import Select, func, select, tuple_, update
from sqlalchemy.orm import Session

from scf_chain.db.models import EvidenceDocument, RiskDocument, RiskReceivable
from scf_chain.errors import CrossDocumentMismatch, EvidenceError
from scf_chain.evidence.crosscheck import check_trade
from scf_chain.evidence.models import Document, Invoice, LogisticsEvent, PurchaseOrder

log = logging.getLogger(__name__)

# A document row is committed right after its created_at stamp; documents are looked for from
# the newest one seen minus this margin, so a slow commit is not missed.
LATE_COMMIT_MARGIN_S = 3_600

DocumentReader = Callable[[str], Document]


def _epoch(d: date | datetime) -> int:
    if isinstance(d, datetime):
        return int(d.timestamp())
    return int(datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp())


def facts_of(doc_id: str, doc_key: str, created_at: int, doc: Document) -> RiskDocument:
    if isinstance(doc, LogisticsEvent):
        return RiskDocument(doc_id=doc_id, kind="logistics", doc_key=doc_key,
                            order_number=doc.order_number, buyer=doc.consignee.lower(),
                            seller=doc.shipper.lower(), event=doc.event, amount=None,
                            doc_time=_epoch(doc.timestamp), created_at=created_at)
    if isinstance(doc, PurchaseOrder):
        return RiskDocument(doc_id=doc_id, kind="purchase_order", doc_key=doc_key,
                            order_number=doc.number, buyer=doc.buyer.lower(),
                            seller=doc.seller.lower(), event=None, amount=doc.amount,
                            doc_time=_epoch(doc.issue_date), created_at=created_at)
    assert isinstance(doc, Invoice)
    return RiskDocument(doc_id=doc_id, kind="invoice", doc_key=doc_key,
                        order_number=doc.order_number, buyer=doc.buyer.lower(),
                        seller=doc.seller.lower(), event=None, amount=doc.amount + doc.tax,
                        doc_time=_epoch(doc.issue_date), created_at=created_at)


@dataclass(frozen=True)
class EvidencePass:
    documents: int  # new documents read
    receivables: int  # receivables (re)checked


def _new_documents(since: int | None) -> Select[str, str, int]:
    """Submitted documents from `since` on (None: all) whose facts are not read yet."""
    q = (select(EvidenceDocument.doc_id, EvidenceDocument.doc_key, EvidenceDocument.created_at)
         .outerjoin(RiskDocument, RiskDocument.doc_id == EvidenceDocument.doc_id)
         .where(RiskDocument.doc_id.is_(None)))
    return q if since is None else q.where(EvidenceDocument.created_at >= since)


def _since(session: Session) -> int | None:
    newest = session.scalar(select(func.max(RiskDocument.created_at)))
    return None if newest is None else newest - LATE_COMMIT_MARGIN_S


def has_new_documents(session: Session) -> bool:
    """Whether `sync_documents` has anything to read."""
    return session.execute(_new_documents(_since(session)).limit(1)).first() is not None


def sync_documents(session: Session, read: DocumentReader) -> int:
    """Read the documents submitted since the last pass into `risk_documents`; the receivables
    whose invoice's order a new document concerns are marked unchecked, for the next
    `sync_evidence` to look at again. Returns the number of documents read; the caller commits.

    This is all a risk gate needs (the facts of every submitted document), and far cheaper than
    the whole pass when nothing was submitted: one query."""
    new = session.execute(_new_documents(_since(session)).order_by(
        EvidenceDocument.created_at, EvidenceDocument.doc_id)).tuples().all()
    touched: set[tuple[str, str]] = set()
    for doc_id, doc_key, created_at in new:
        try:
            doc = read(doc_id)
        except (EvidenceError, OSError, ValueError) as exc:  # retried on the next pass
            log.warning("risk: cannot read document %s: %s", doc_id, exc)
            continue
        row = facts_of(doc_id, doc_key, created_at, doc)
        session.add(row)
        touched.add((row.order_number, row.buyer))
    session.flush()
    if touched:
        keys = select(RiskDocument.doc_key).where(
            RiskDocument.kind == "invoice",
            tuple_(RiskDocument.order_number, RiskDocument.buyer).in_(sorted(touched)))
        session.execute(update(RiskReceivable).where(RiskReceivable.invoice_key.in_(keys),
                                                     RiskReceivable.evidence_checked.is_(True))
                        .values(evidence_checked=False).execution_options(
                            synchronize_session=False))
    return len(new)


def sync_evidence(session: Session, read: DocumentReader) -> EvidencePass:
    """Read new documents, then check the receivables they or the chain made uncertain. The
    caller commits."""
    documents = sync_documents(session, read)
    todo = session.scalars(select(RiskReceivable)
                           .where(RiskReceivable.evidence_checked.is_(False))).all()
    for r in todo:
        check_receivable(session, r, read)
    session.flush()
    return EvidencePass(documents, len(todo))


def check_receivable(session: Session, r: RiskReceivable, read: DocumentReader) -> None:
    """Set the receivable's evidence columns: which documents exist, and whether they agree."""
    inv = session.scalars(select(RiskDocument).where(
        RiskDocument.kind == "invoice", RiskDocument.doc_key == r.invoice_key)
        .order_by(RiskDocument.created_at, RiskDocument.doc_id)).first()
    r.evidence_checked = True
    r.has_invoice = inv is not None
    r.has_order = r.has_delivery = False
    r.delivered_at = None
    if inv is None:
        r.consistency = "no_invoice"
        return
    linked = session.scalars(select(RiskDocument).where(
        RiskDocument.order_number == inv.order_number, RiskDocument.buyer == inv.buyer,
        RiskDocument.kind != "invoice").order_by(RiskDocument.doc_time, RiskDocument.doc_id)).all()
    orders = [d for d in linked if d.kind == "purchase_order" and d.seller == inv.seller]
    logistics = [d for d in linked if d.kind == "logistics"]
    delivered = [d for d in logistics if d.event == "delivered"]
    order = orders[0] if orders else None
    delivery = delivered[0] if delivered else (logistics[-1] if logistics else None)
    r.has_order = order is not None
    r.has_delivery = bool(delivered)
    if delivered:
        r.delivered_at = delivered[0].doc_time
    if order is None:
        r.consistency = "no_order"
        return
    if delivery is None:
        r.consistency = "no_delivery"
        return
    try:
        docs = read(inv.doc_id), read(order.doc_id), read(delivery.doc_id)
    except (EvidenceError, OSError, ValueError) as exc:
        log.warning("risk: cannot read the evidence of receivable %s: %s", r.slot, exc)
        r.evidence_checked = False  # looked at again on the next pass
        return
    try:
        check_trade(docs[0], docs[1], docs[2], r.face_value,  # type: ignore[arg-type]
                    to_checksum_address(r.debtor), to_checksum_address(r.creditor))
    except CrossDocumentMismatch as exc:
        r.consistency = exc.code
        return
    r.consistency = "ok"
