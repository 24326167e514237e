"""Evidence: submit orders, logistics events and invoices; anchor a batch; prove, disclose, verify."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path
from fastapi.responses import JSONResponse

from api.deps import CallerDep, IdemDep, PlatformDep
from api.routes.common import tx
from api.schemas import BatchOut, DiscloseIn, DocumentOut, VerificationOut
from scf_chain.clients import Role
from scf_chain.db.models import EvidenceDocument
from scf_chain.evidence.proofs import ProofBundle
from scf_chain.platform import evidence as ev

router = APIRouter(prefix="/evidence", tags=["evidence"])
DocPath = Annotated[str, Path(pattern=r"^doc-[0-9a-f]{24}$")]


def out(r: EvidenceDocument) -> DocumentOut:
    return DocumentOut(doc_id=r.doc_id, owner=r.owner, doc_type=r.doc_type, number=r.number,
                       doc_key=r.doc_key, doc_hash=r.doc_hash, leaf=r.leaf,
                       batch_root=r.batch_root, anchored_tx=r.anchored_tx)


@router.post("/documents", status_code=201, response_model=DocumentOut)
def submit(document: Annotated[ev.DocumentSubmission, Body()], platform: PlatformDep, idem: IdemDep) -> JSONResponse:
    """Submit a purchase order, logistics event or invoice; stored encrypted, salted per field.

    Parties (buyer, seller, shipper, consignee) are addresses or participants' names; the
    stored and anchored document holds addresses. An unknown name: 422 unknown_participant."""
    return idem.run(lambda: out(ev.submit(platform, idem.caller.participant,
                                          document.model_dump(mode="json"))), 201)


@router.post("/batches", status_code=201, response_model=BatchOut)
def anchor_batch(platform: PlatformDep, idem: IdemDep) -> JSONResponse:
    """Anchor every pending document under one Merkle root (anchorers only)."""
    idem.caller.require(Role.ANCHORER)

    def effect() -> BatchOut:
        b = ev.anchor_pending(platform, idem.caller.participant)
        return BatchOut(root=b.root, doc_type=b.doc_type, count=len(b.doc_ids),
                        doc_ids=b.doc_ids, tx=tx(b.anchored.tx))

    return idem.run(effect, 201)


@router.get("/documents/{doc_id}", response_model=DocumentOut)
def get_document(doc_id: DocPath, platform: PlatformDep, caller: CallerDep) -> DocumentOut:
    row, _ = ev.document(platform, caller.participant, doc_id, caller.reads_everything)
    return out(row)


@router.get("/documents/{doc_id}/content")
def get_content(doc_id: DocPath, platform: PlatformDep, caller: CallerDep) -> Any:
    """The decrypted document with its salts (parties and auditors only)."""
    _, salted = ev.document(platform, caller.participant, doc_id, caller.reads_everything)
    return salted.to_json()


@router.get("/documents/{doc_id}/proof", response_model=ProofBundle)
def proof(doc_id: DocPath, platform: PlatformDep, caller: CallerDep) -> ProofBundle:
    """An offline proof bundle disclosing every field: `python -m scf_chain.evidence.verify`."""
    return ev.bundle(platform, caller.participant, doc_id, caller.reads_everything)


@router.post("/documents/{doc_id}/disclosures", response_model=ProofBundle)
def disclose(doc_id: DocPath, body: DiscloseIn, platform: PlatformDep, caller: CallerDep
             ) -> ProofBundle:
    """A proof bundle revealing only the chosen fields (the rest stay as commitments).

    Reads only, so no Idempotency-Key is needed.
    """
    return ev.bundle(platform, caller.participant, doc_id, caller.reads_everything,
                     list(body.fields))


@router.post("/verify", response_model=VerificationOut)
def verify(bundle: ProofBundle, platform: PlatformDep, caller: CallerDep) -> VerificationOut:
    """Check a proof bundle against the chain; `ok` false with a reason when anything was changed."""
    r = ev.verify(platform, bundle)
    return VerificationOut(ok=r.ok, reason=r.reason, anchored_at=r.anchored_at,
                           anchorer=r.anchorer, revoked=r.revoked, disclosed=r.disclosed)
