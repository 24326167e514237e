"""Evidence on the platform: submit documents (encrypted), anchor pending ones as a batch, prove, verify."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, get_args

from eth_utils import is_address, to_checksum_address
from pydantic import AfterValidator, Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from scf_chain.clients import Anchored
from scf_chain.db.models import EvidenceDocument, GatewayParticipant
from scf_chain.errors import (
    DocumentAccessDenied,
    DocumentNotFound,
    EvidenceRequestConflict,
    EvidenceRequestError,
    EvidenceRequestForbidden,
    EvidenceRequestNotFound,
    NotFound,
)
from scf_chain.evidence.commit import SaltedDocument, parse_document
from scf_chain.evidence.crosscheck import check_trade
from scf_chain.evidence.merkle import verify as merkle_verify
from scf_chain.evidence.models import Address, Document, Invoice, LogisticsEvent, PurchaseOrder
from scf_chain.evidence.proofs import (
    Batch,
    EvidenceChainView,
    ProofBundle,
    VerificationResult,
    make_bundle,
    verify_bundle,
)
from scf_chain.platform.core import NAME_RE, Platform

MAX_BATCH = 10_000


def _h(b: bytes) -> str:
    return "0x" + b.hex()


def parties_of(doc: Document) -> set[str]:
    if isinstance(doc, LogisticsEvent):
        return {doc.shipper, doc.consignee}
    assert isinstance(doc, (PurchaseOrder, Invoice))
    return {doc.buyer, doc.seller}


def _takes_address(field: Any) -> bool:
    """Whether a model field is declared `Address` (carries that type's validator)."""
    marks = get_args(Address)[1:]  # Annotated[str, validator]: the validator object
    return any(any(m is a for a in marks) for m in field.metadata)


# kind -> the fields of that document that hold a party's address (read off the models, so a
# new party field is covered without a list to keep)
PARTY_FIELDS: dict[str, tuple[str, ...]] = {
    cls.model_fields["kind"].default: tuple(n for n, f in cls.model_fields.items()
                                            if _takes_address(f))
    for cls in (PurchaseOrder, LogisticsEvent, Invoice)
}


def _party_ref(v: str) -> str:
    if is_address(v):
        return str(to_checksum_address(v))
    if NAME_RE.match(v):
        return v
    raise ValueError("neither an Ethereum address nor a participant's name")


PartyRef = Annotated[str, AfterValidator(_party_ref), Field(
    pattern=r"^(0x[0-9a-fA-F]{40}|[a-z0-9][a-z0-9-]{0,62})$",  # the schema says what _party_ref takes
    description="an Ethereum address, or a registered participant's name (the gateway puts its "
                "address in the document)")]


class PurchaseOrderSubmission(PurchaseOrder):
    buyer: PartyRef
    seller: PartyRef


class LogisticsEventSubmission(LogisticsEvent):
    shipper: PartyRef
    consignee: PartyRef


class InvoiceSubmission(Invoice):
    seller: PartyRef
    buyer: PartyRef


# The body of POST /evidence/documents: a document whose parties may be given by name.
DocumentSubmission = Annotated[
    PurchaseOrderSubmission | LogisticsEventSubmission | InvoiceSubmission,
    Field(discriminator="kind")]


def with_addresses(platform: Platform, data: dict[str, Any]) -> dict[str, Any]:
    """`data` with every party given by name replaced by that participant's address; an unknown
    name is refused (`unknown_participant`, invalid) before anything is stored."""
    out = dict(data)
    for name in PARTY_FIELDS.get(str(data.get("kind")), ()):
        who = out.get(name)
        if not isinstance(who, str) or is_address(who):
            continue
        try:
            out[name] = platform.resolve(who)
        except NotFound:
            raise EvidenceRequestError(
                "unknown_participant", f"{name}: {who!r} is neither an address nor a "
                "registered participant's name") from None
    return out


def _number(doc: Document) -> str:
    return doc.waybill if isinstance(doc, LogisticsEvent) else doc.number  # type: ignore[attr-defined]


def submit(platform: Platform, caller: GatewayParticipant, data: dict[str, Any]
           ) -> EvidenceDocument:
    """Validate, salt and store a document encrypted; it waits for the next anchored batch.

    Parties may be given by participant name: the document holds their addresses (it is
    hashed and anchored as it is, and names are the gateway's, not the chain's).
    The submitter must be a party (buyer, seller, shipper, consignee) or an anchorer (a logistics
    provider), and an invoice's submitter its seller; the parties may read it, auditors read
    everything. A document's key, and so its id, is scoped to its submitter's address: nobody can
    take another party's order or waybill numbers (an invoice's key is the seller's, whose
    number it is). Submitting the same document twice is a conflict only to its submitter.
    """
    from scf_chain.clients import Role

    data = with_addresses(platform, data)
    try:
        doc = parse_document(data)
    except ValueError as exc:
        raise EvidenceRequestError("document_invalid", str(exc)) from None
    parties = parties_of(doc)
    if caller.address.lower() not in {a.lower() for a in parties} and not caller.roles & Role.ANCHORER:
        raise EvidenceRequestForbidden("not_a_party", "only a party to the document or an "
                                       "anchorer may submit it")
    if isinstance(doc, Invoice) and caller.address.lower() != doc.seller.lower():
        raise EvidenceRequestForbidden("not_the_issuer", "an invoice is submitted by its "
                                       "seller: its number and its key (which a receivable "
                                       "consumes) are the seller's")
    salted = SaltedDocument.create(doc, submitter=to_checksum_address(caller.address))
    doc_id = "doc-" + salted.doc_key.hex()[:24]
    readers = {p.name for p in (platform.participant_by_address(a) for a in parties) if p}
    row = EvidenceDocument(doc_id=doc_id, owner=caller.name, doc_type=doc.doc_type,
                           number=_number(doc), doc_key=_h(salted.doc_key),
                           fields_root=_h(salted.fields_root), doc_hash=_h(salted.doc_hash),
                           leaf=_h(salted.leaf), created_at=int(time.time()))
    with platform.sessions() as s:
        s.add(row)
        try:
            s.flush()
        except IntegrityError:
            s.rollback()
            raise EvidenceRequestConflict("document_exists", f"you submitted this {doc.kind} "
                                          f"({_number(doc)}) already") from None
        if not platform.documents.exists(doc_id):
            platform.documents.put(doc_id, json.dumps(salted.to_json()).encode(), caller.name,
                                   readers)
        s.commit()
    return row


Read = tuple[EvidenceDocument, SaltedDocument]


def document(platform: Platform, caller: GatewayParticipant, doc_id: str,
             reads_everything: bool, memo: dict[tuple[str, str, bool], Read] | None = None
             ) -> Read:
    """The row and the decrypted document, for someone allowed to read it.

    A document the caller may not read is answered exactly as one that does not exist (the same
    `document_not_found`): an id says nothing about whether someone else's document exists.
    `memo`: documents this request already read (by id and reader), kept there: a request that
    checks the same documents twice (a risk gate, then the application) decrypts them once.
    """
    return documents(platform, caller, (doc_id,), reads_everything, memo)[0]


def documents(platform: Platform, caller: GatewayParticipant, doc_ids: Sequence[str],
              reads_everything: bool, memo: dict[tuple[str, str, bool], Read] | None = None
              ) -> list[Read]:
    """`document` of each of `doc_ids`, their rows read in one query; the first that the caller
    may not read (or that does not exist) raises, as `document` does."""
    todo = [d for d in doc_ids if memo is None or (d, caller.name, reads_everything) not in memo]
    rows: dict[str, EvidenceDocument] = {}
    if todo:
        with platform.sessions() as s:
            rows = {r.doc_id: r for r in s.scalars(
                select(EvidenceDocument).where(EvidenceDocument.doc_id.in_(set(todo))))}
    out = []
    for doc_id in doc_ids:
        key = (doc_id, caller.name, reads_everything)
        if memo is not None and key in memo:
            out.append(memo[key])
            continue
        read = _read(platform, caller, doc_id, rows.get(doc_id), reads_everything)
        if memo is not None:
            memo[key] = read
        out.append(read)
    return out


def _read(platform: Platform, caller: GatewayParticipant, doc_id: str,
          row: EvidenceDocument | None, reads_everything: bool) -> Read:
    try:
        if row is None:
            raise DocumentNotFound(doc_id)
        content = platform.documents.get(doc_id, caller.name, is_auditor=reads_everything)
    except (DocumentNotFound, DocumentAccessDenied):
        raise EvidenceRequestNotFound("document_not_found", f"no document {doc_id!r}") from None
    assert row is not None
    return row, SaltedDocument.from_json(json.loads(content))


@dataclass(frozen=True)
class AnchoredBatch:
    root: str
    doc_type: int
    doc_ids: list[str]
    anchored: Anchored


def anchor_pending(platform: Platform, anchorer: GatewayParticipant,
                   limit: int = MAX_BATCH) -> AnchoredBatch:
    """Anchor every pending document (up to `limit`) under one root, and record their proofs."""
    with platform.sessions() as s:
        rows = list(s.scalars(select(EvidenceDocument).where(EvidenceDocument.batch_root.is_(None))
                              .order_by(EvidenceDocument.created_at, EvidenceDocument.doc_id)
                              .limit(limit)))
    if not rows:
        raise EvidenceRequestConflict("nothing_to_anchor",
                                      "no submitted document awaits anchoring")
    docs = [SaltedDocument.from_json(json.loads(platform.documents.get(r.doc_id, "",
                                                                       is_auditor=True)))
            for r in rows]
    batch = Batch.of(docs)
    anchored = batch.anchor(platform.evidence_registry(anchorer))
    with platform.sessions() as s:
        for i, r in enumerate(rows):
            row = s.get(EvidenceDocument, r.doc_id)
            assert row is not None
            row.batch_root = _h(batch.root)
            row.proof = [_h(p) for p in batch.proof(i)]
            row.anchored_tx = anchored.tx.tx_hash
        s.commit()
    return AnchoredBatch(_h(batch.root), batch.doc_type, [r.doc_id for r in rows], anchored)


def bundle(platform: Platform, caller: GatewayParticipant, doc_id: str, reads_everything: bool,
           fields: list[str] | None = None) -> ProofBundle:
    row, salted = document(platform, caller, doc_id, reads_everything)
    if row.batch_root is None or row.proof is None:
        raise EvidenceRequestConflict("document_not_anchored",
                                      f"document {doc_id!r} is not anchored yet")
    return make_bundle(salted, [bytes.fromhex(p[2:]) for p in row.proof],
                       bytes.fromhex(row.batch_root[2:]), platform.chain.chain_id(),
                       platform.manifest.evidence_registry, fields)


def verify(platform: Platform, b: ProofBundle) -> VerificationResult:
    if b.registry.lower() != platform.manifest.evidence_registry.lower():
        return VerificationResult(False, "the bundle names another evidence registry")
    return verify_bundle(b, EvidenceChainView(platform.chain.w3, b.registry))


@dataclass(frozen=True)
class ApplicationEvidence:
    doc_key: bytes
    fields_root: bytes
    root: bytes
    proof: list[bytes]


def prepare_application(platform: Platform, creditor: GatewayParticipant, debtor: str,
                        face_value: int, invoice_id: str, order_id: str,
                        delivery_id: str, memo: dict[tuple[str, str, bool], Read] | None = None
                        ) -> ApplicationEvidence:
    """Cross-check invoice, order and delivery, and return what `applyFor` needs for the invoice
    (`memo`: see `document`)."""
    loaded = {}
    for doc_id, kind in ((invoice_id, Invoice), (order_id, PurchaseOrder),
                         (delivery_id, LogisticsEvent)):
        row, salted = document(platform, creditor, doc_id, False, memo)
        if not isinstance(salted.document, kind):
            raise EvidenceRequestError("wrong_document_type",
                                       f"{doc_id!r} is a {salted.document.kind}, not a "
                                       f"{kind.model_fields['kind'].default}")
        if row.batch_root is None or row.proof is None:
            raise EvidenceRequestConflict("document_not_anchored",
                                          f"document {doc_id!r} is not anchored yet")
        loaded[kind] = (row, salted)
    inv_row, inv = loaded[Invoice]
    check_trade(inv.document, loaded[PurchaseOrder][1].document,  # type: ignore[arg-type]
                loaded[LogisticsEvent][1].document, face_value, debtor,  # type: ignore[arg-type]
                to_checksum_address(creditor.address))
    assert inv_row.batch_root is not None and inv_row.proof is not None
    return ApplicationEvidence(inv.doc_key, inv.fields_root, bytes.fromhex(inv_row.batch_root[2:]),
                               [bytes.fromhex(p[2:]) for p in inv_row.proof])


def verifier(platform: Platform) -> Callable[[str, str], bool]:
    """For the audit trace: does the stored invoice still hash to an anchored, unrevoked leaf?"""
    def check(root: str, invoice_key: str) -> bool:
        with platform.sessions() as s:
            row = s.scalars(select(EvidenceDocument).where(EvidenceDocument.doc_key == invoice_key,
                                                           EvidenceDocument.batch_root == root)
                            ).first()
        if row is None or row.proof is None:
            return False
        salted = SaltedDocument.from_json(json.loads(platform.documents.get(row.doc_id, "",
                                                                            is_auditor=True)))
        proof = [bytes.fromhex(p[2:]) for p in row.proof]
        r = bytes.fromhex(root[2:])
        return (merkle_verify(salted.leaf, proof, r)
                and platform.evidence_registry(platform.operator_account)
                .verify_leaf(r, salted.leaf, proof))
    return check
