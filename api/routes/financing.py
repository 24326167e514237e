"""Financing (融资/贴现): the holder offers part of a token at a price; the financier pays and receives it."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from sqlalchemy import func, or_, select

from api.deps import CallerDep, FreshDep, IdemDep, PlatformDep
from api.routes.common import Limit, OfferPath, Offset, as_holder, party, ref32, tx, uint
from api.routes.risk import gate
from api.schemas import CancelledOut, FinancedOut, OfferIn, OfferOut, Page
from scf_chain.clients import Role
from scf_chain.db.models import Offer
from scf_chain.errors import NotFound
from scf_chain.platform.operations import accept_offer
from scf_chain.risk import gates

router = APIRouter(prefix="/offers", tags=["financing"])


def out(o: Offer) -> OfferOut:
    return OfferOut(offer_id=o.offer_id, slot=o.slot, holder=o.holder, financier=o.financier,
                    source_token_id=o.source_token_id, escrow_token_id=o.escrow_token_id,
                    value=o.value, price=o.price, expiry=o.expiry, status=o.status,
                    registration_ref=o.registration_ref)


@router.post("", status_code=201, response_model=OfferOut)
def offer(body: OfferIn, platform: PlatformDep, idem: IdemDep) -> JSONResponse:
    """Escrow `value` of a token for a financier at `price` until accepted, cancelled or expired."""
    financier = party(platform, body.financier)

    def effect() -> OfferOut:
        gate(gates.check_offer, platform, idem.caller.address, body.token_id, body.value,
             body.price, financier)
        o = as_holder(platform, idem.caller, body.token_id,
                      lambda: platform.token(idem.caller.participant).offer(
                          body.token_id, body.value, financier, body.price, body.expiry,
                          ref32(body.registration_ref)))
        platform.sync()
        with platform.sessions() as s:
            row = s.get(Offer, o.offer_id)
        assert row is not None
        return out(row)

    return idem.run(effect, 201)


@router.post("/{offer_id}/accept", response_model=FinancedOut)
def accept(offer_id: OfferPath, platform: PlatformDep, idem: IdemDep) -> JSONResponse:
    """The financier pays the price and receives the escrowed value in one transaction (DvP)."""
    idem.caller.require(Role.FINANCIER)

    def effect() -> FinancedOut:
        gate(gates.check_accept, platform, uint(offer_id))
        f = accept_offer(platform, idem.caller.participant, uint(offer_id))
        return FinancedOut(offer_id=f.offer_id, token_id=f.token_id, value=f.value,
                           price=f.price, tx=tx(f.tx))

    return idem.run(effect)


@router.post("/{offer_id}/cancel", response_model=CancelledOut)
def cancel(offer_id: OfferPath, platform: PlatformDep, idem: IdemDep) -> JSONResponse:
    def effect() -> CancelledOut:
        c = platform.token(idem.caller.participant).cancel_offer(uint(offer_id))
        return CancelledOut(offer_id=c.offer_id, returned_to_token_id=c.returned_to_token_id,
                            tx=tx(c.tx))

    return idem.run(effect)


@router.get("/{offer_id}", response_model=OfferOut)
def get_offer(offer_id: OfferPath, platform: FreshDep, caller: CallerDep) -> OfferOut:
    with platform.sessions() as s:
        o = s.get(Offer, uint(offer_id))
    if o is None or not (caller.reads_everything or caller.address.lower() in (o.holder, o.financier)):
        raise NotFound(f"no offer {offer_id} visible to {caller.name}")
    return out(o)


@router.get("", response_model=Page[OfferOut])
def list_offers(
    platform: FreshDep, caller: CallerDep, limit: Limit = 50, offset: Offset = 0,
    status: Annotated[Literal["open", "accepted", "cancelled"] | None, Query()] = None,
) -> Page[OfferOut]:
    """Offers made by or to the caller (auditors and the operator: all)."""
    where = [] if status is None else [Offer.status == status]
    if not caller.reads_everything:
        where.append(or_(Offer.holder == caller.address, Offer.financier == caller.address))
    with platform.sessions() as s:
        total = int(s.scalar(select(func.count()).select_from(Offer).where(*where)) or 0)
        rows = s.scalars(select(Offer).where(*where).order_by(Offer.offer_id.desc())
                         .limit(limit).offset(offset)).all()
    return Page[OfferOut](items=[out(o) for o in rows], total=total, limit=limit, offset=offset)
