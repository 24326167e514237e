"""Receivables: apply with evidence (creditor), confirm or reject (debtor), withdraw, read, list."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from sqlalchemy import func, or_, select

from api.deps import Caller, CallerDep, FreshDep, IdemDep, PlatformDep
from api.routes.common import Limit, Offset, SlotPath, party, ref32, tx, uint
from api.routes.risk import gate
from api.schemas import (
    UINT_PATTERN,
    AppliedOut,
    ApplyIn,
    ConfirmedOut,
    Page,
    ReceivableOut,
    RejectIn,
    Tx,
)
from scf_chain.audit.visibility import Viewer
from scf_chain.clients import Role
from scf_chain.db.models import Receivable, Token
from scf_chain.errors import NotFound
from scf_chain.platform import evidence as evidence_ops
from scf_chain.platform.core import Platform
from scf_chain.platform.operations import derived_status, derived_status_filter, visible_slot
from scf_chain.risk import gates

router = APIRouter(prefix="/receivables", tags=["receivables"])


def out(r: Receivable, now: int) -> ReceivableOut:
    """`now`: chain time, from which matured, overdue and settled are derived."""
    return ReceivableOut(
        slot=r.slot, debtor=r.debtor, creditor=r.creditor, face_value=r.face_value,
        settlement_token=r.settlement_token, maturity=r.maturity,
        status=derived_status(r, now), stored_status=r.status, repaid=r.repaid,
        paid_out=r.paid_out, invoice_key=r.invoice_key,
        evidence_root=r.evidence_root, first_token_id=r.first_token_id,
        collect_enabled=r.collect_enabled)


def viewer(caller: Caller) -> Viewer:
    """The caller as the visibility matrix sees it (scf_chain.audit.visibility)."""
    return Viewer(caller.address, caller.reads_everything)


def load_visible(platform: Platform, caller: Caller, slot: int) -> Receivable:
    platform.sync()
    with platform.sessions() as s:
        r = s.get(Receivable, slot)
    if r is None or not (caller.reads_everything or visible_slot(platform, caller.address, slot)):
        raise NotFound(f"no receivable {slot} visible to {caller.name}")
    return r


@router.post("", status_code=201, response_model=AppliedOut)
def apply(body: ApplyIn, platform: PlatformDep, idem: IdemDep) -> JSONResponse:
    """The creditor applies (确权申请) against an anchored invoice; the order and delivery must match it.

    Cross-document checks run first (same buyer and seller, delivered before invoiced, face value
    within the invoice); the contract then checks the Merkle proof against the anchored root and
    reserves the invoice so it can never back a second receivable.
    """
    caller = idem.caller
    caller.require(Role.SUPPLIER)
    debtor = party(platform, body.debtor)

    def effect() -> AppliedOut:
        read: dict[Any, Any] = {}  # the documents, decrypted once for the gate and the proof
        gate(gates.check_apply, platform, caller.participant, debtor, body.face_value,
             body.invoice_doc_id, body.order_doc_id, body.delivery_doc_id, read)
        ev = evidence_ops.prepare_application(
            platform, caller.participant, debtor, body.face_value, body.invoice_doc_id,
            body.order_doc_id, body.delivery_doc_id, read)
        token = body.settlement_token or platform.manifest.settlement_tokens[0]
        applied = platform.token(caller.participant).apply_for(
            debtor, caller.address, body.face_value, token, body.maturity, ev.doc_key,
            ev.fields_root, ev.root, ev.proof)
        return AppliedOut(slot=applied.slot, tx=tx(applied.tx))

    return idem.run(effect, 201)


@router.post("/{slot}/confirm", response_model=ConfirmedOut)
def confirm(slot: SlotPath, platform: PlatformDep, idem: IdemDep) -> JSONResponse:
    """The debtor confirms what it owes (确权); the creditor's token is minted with the face value."""
    idem.caller.require(Role.DEBTOR, Role.SUPPLIER)

    def effect() -> ConfirmedOut:
        gate(gates.check_confirm, platform, idem.caller.participant, uint(slot))
        c = platform.token(idem.caller.participant).confirm(uint(slot))
        return ConfirmedOut(slot=c.slot, token_id=c.token_id, face_value=c.face_value, tx=tx(c.tx))

    return idem.run(effect)


@router.post("/{slot}/reject", response_model=Tx)
def reject(slot: SlotPath, body: RejectIn, platform: PlatformDep, idem: IdemDep) -> JSONResponse:
    def effect() -> Tx:
        r = platform.token(idem.caller.participant).reject(uint(slot), ref32(body.reason))
        return tx(r)

    return idem.run(effect)


@router.post("/{slot}/withdraw", response_model=Tx)
def withdraw(slot: SlotPath, platform: PlatformDep, idem: IdemDep) -> JSONResponse:
    def effect() -> Tx:
        r = platform.token(idem.caller.participant).withdraw(uint(slot))
        return tx(r)

    return idem.run(effect)


@router.get("/{slot}", response_model=ReceivableOut)
def get_receivable(slot: SlotPath, platform: FreshDep, caller: CallerDep) -> ReceivableOut:
    return out(load_visible(platform, caller, uint(slot)), platform.chain.now())


@router.get("", response_model=Page[ReceivableOut])
def list_receivables(
    platform: FreshDep, caller: CallerDep, limit: Limit = 50, offset: Offset = 0,
    status: Annotated[Literal["pending", "active", "rejected", "withdrawn", "matured",
                              "overdue", "settled"] | None, Query()] = None,
    debtor: Annotated[str | None, Query(max_length=64)] = None,
    creditor: Annotated[str | None, Query(max_length=64)] = None,
    maturity_from: Annotated[int | None, Query(ge=0, le=2**40, description="unix s")] = None,
    maturity_to: Annotated[int | None, Query(ge=0, le=2**40, description="unix s")] = None,
    min_face_value: Annotated[str | None, Query(pattern=UINT_PATTERN)] = None,
    max_face_value: Annotated[str | None, Query(pattern=UINT_PATTERN)] = None,
) -> Page[ReceivableOut]:
    """Receivables the caller may see (auditors and the operator: all), newest first.

    Filters: status (as shown: active means neither matured nor settled; matured, overdue
    and settled are derived from chain time and payments, as the contract's statusOf),
    debtor, creditor, maturity within [maturity_from, maturity_to] and face value within
    [min_face_value, max_face_value] (bounds included, amounts in smallest units).
    """
    now = platform.chain.now()
    where = []
    if status:
        where.extend(derived_status_filter(status, now))
    if debtor:
        where.append(Receivable.debtor == party(platform, debtor))
    if creditor:
        where.append(Receivable.creditor == party(platform, creditor))
    if maturity_from is not None:
        where.append(Receivable.maturity >= maturity_from)
    if maturity_to is not None:
        where.append(Receivable.maturity <= maturity_to)
    if min_face_value is not None:
        where.append(Receivable.face_value >= uint(min_face_value))
    if max_face_value is not None:
        where.append(Receivable.face_value <= uint(max_face_value))
    if not caller.reads_everything:
        mine = select(Token.slot).where(Token.owner == caller.address)
        where.append(or_(Receivable.debtor == caller.address, Receivable.creditor == caller.address,
                         Receivable.slot.in_(mine)))
    with platform.sessions() as s:
        total = int(s.scalar(select(func.count()).select_from(Receivable).where(*where)) or 0)
        rows = s.scalars(select(Receivable).where(*where).order_by(Receivable.slot.desc())
                         .limit(limit).offset(offset)).all()
    return Page[ReceivableOut](items=[out(r, now) for r in rows], total=total, limit=limit,
                               offset=offset)
