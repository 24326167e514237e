"""Settlement (到期清分): the debtor repays or authorizes collection; holders are redeemed pro rata."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import CallerDep, FreshDep, IdemDep, PlatformDep
from api.routes.common import SlotPath, tx, uint
from api.routes.receivables import load_visible, viewer
from api.schemas import (
    CollectionIn,
    CollectionOut,
    HoldingOut,
    RedeemedOut,
    RedemptionOut,
    RepaidOut,
    RepayIn,
    SettlementOut,
    Tx,
)
from scf_chain.audit.visibility import holdings_seen
from scf_chain.clients import Role
from scf_chain.platform import operations

router = APIRouter(prefix="/receivables", tags=["settlement"])


@router.post("/{slot}/repayments", response_model=RepaidOut)
def repay(slot: SlotPath, body: RepayIn, platform: PlatformDep, idem: IdemDep) -> JSONResponse:
    """The debtor pays (part of) what it owes; partial and late payments are allowed."""
    idem.caller.require(Role.DEBTOR)

    def effect() -> RepaidOut:
        r = operations.repay(platform, idem.caller.participant, uint(slot), body.amount)
        return RepaidOut(slot=r.slot, amount=r.amount, total_repaid=r.total_repaid, tx=tx(r.tx))

    return idem.run(effect)


@router.post("/{slot}/collection", response_model=Tx)
def authorize_collection(slot: SlotPath, body: CollectionIn, platform: PlatformDep,
                         idem: IdemDep) -> JSONResponse:
    """The debtor lets the keeper collect what is owed at maturity (flag plus allowance)."""
    idem.caller.require(Role.DEBTOR)
    return idem.run(lambda: tx(operations.authorize_collection(
        platform, idem.caller.participant, uint(slot), body.enabled)))


@router.get("/{slot}/settlement", response_model=SettlementOut)
def settlement_status(slot: SlotPath, platform: FreshDep, caller: CallerDep) -> SettlementOut:
    """Repaid, paid out and outstanding, what each live token would receive if redeemed now, and
    how far automatic collection got (`collection.status`; `stalled` with a reason and shortfall)."""
    r = load_visible(platform, caller, uint(slot))
    st = operations.settlement(platform, uint(slot))
    # others' holdings only for the debtor, auditors and the operator (docs/visibility.md)
    seen = holdings_seen(viewer(caller), r.debtor, st.holdings)
    return SettlementOut(
        slot=st.slot, status=st.status, face_value=st.face_value, repaid=st.repaid,
        paid_out=st.paid_out, outstanding=st.outstanding, maturity=st.maturity,
        collect_enabled=st.collect_enabled,
        holdings=[HoldingOut(token_id=h.token_id, owner=h.owner, value=h.value, due=h.due)
                  for h in seen],
        collection=CollectionOut.model_validate(st.collection, from_attributes=True))


@router.post("/{slot}/redeem", response_model=RedeemedOut)
def redeem(slot: SlotPath, platform: PlatformDep, idem: IdemDep) -> JSONResponse:
    """Pay every holder of the receivable what is due now (the keeper does this on its own)."""
    rec = load_visible(platform, idem.caller, uint(slot))

    def effect() -> RedeemedOut:
        results = operations.redeem_slot(platform, idem.caller.participant, uint(slot))
        reds = [r for res in results for r in res.redemptions]
        # the total is the receivable's (its paid_out); who got what is seen as holdings are
        seen = holdings_seen(viewer(idem.caller), rec.debtor, reds, "holder")
        return RedeemedOut(slot=uint(slot), amount=sum(r.amount for r in reds),
                           redemptions=[RedemptionOut(token_id=r.token_id, holder=r.holder,
                                                      amount=r.amount) for r in seen],
                           tx_hashes=[res.tx.tx_hash for res in results])

    return idem.run(effect)
