"""Settlement (到期清分): the debtor repays or authorizes collection; holders are redeemed pro rata."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import CallerDep, FreshDep, IdemDep, PlatformDep
from api.routes.common import SlotPath, tx, uint
from api.routes.receivables import load_visible
from api.schemas import (
    CollectionIn,
    HoldingOut,
    RedeemedOut,
    RedemptionOut,
    RepaidOut,
    RepayIn,
    SettlementOut,
    Tx,
)
from scf_chain.clients import Role
from scf_chain.platform import operations

router = APIRouter(prefix="/receivables", tags=["settlement"])


@router.post("/{slot}/repayments", response_model=RepaidOut)
def repay(slot: SlotPath, body: RepayIn, platform: PlatformDep, idem: IdemDep):  # type: ignore[no-untyped-def]
    """The debtor pays (part of) what it owes; partial and late payments are allowed."""
    idem.caller.require(Role.DEBTOR)

    def effect() -> RepaidOut:
        r = operations.repay(platform, idem.caller.participant, uint(slot), body.amount)
        return RepaidOut(slot=r.slot, amount=r.amount, total_repaid=r.total_repaid, tx=tx(r.tx))

    return idem.run(effect)


@router.post("/{slot}/collection", response_model=Tx)
def authorize_collection(slot: SlotPath, body: CollectionIn, platform: PlatformDep,
                         idem: IdemDep):  # type: ignore[no-untyped-def]
    """The debtor lets the keeper collect what is owed at maturity (flag plus allowance)."""
    idem.caller.require(Role.DEBTOR)
    return idem.run(lambda: tx(operations.authorize_collection(
        platform, idem.caller.participant, uint(slot), body.enabled)))


@router.get("/{slot}/settlement", response_model=SettlementOut)
def settlement_status(slot: SlotPath, platform: FreshDep, caller: CallerDep) -> SettlementOut:
    """Repaid, paid out and outstanding, and what each live token would receive if redeemed now."""
    load_visible(platform, caller, uint(slot))
    st = operations.settlement(platform, uint(slot))
    return SettlementOut(
        slot=st.slot, status=st.status, face_value=st.face_value, repaid=st.repaid,
        paid_out=st.paid_out, outstanding=st.outstanding, maturity=st.maturity,
        collect_enabled=st.collect_enabled,
        holdings=[HoldingOut(token_id=h.token_id, owner=h.owner, value=h.value, due=h.due)
                  for h in st.holdings])


@router.post("/{slot}/redeem", response_model=RedeemedOut)
def redeem(slot: SlotPath, platform: PlatformDep, idem: IdemDep):  # type: ignore[no-untyped-def]
    """Pay every holder of the receivable what is due now (the keeper does this on its own)."""
    load_visible(platform, idem.caller, uint(slot))

    def effect() -> RedeemedOut:
        results = operations.redeem_slot(platform, idem.caller.participant, uint(slot))
        reds = [r for res in results for r in res.redemptions]
        return RedeemedOut(slot=uint(slot), amount=sum(r.amount for r in reds),
                           redemptions=[RedemptionOut(token_id=r.token_id, holder=r.holder,
                                                      amount=r.amount) for r in reds],
                           tx_hashes=[res.tx.tx_hash for res in results])

    return idem.run(effect)
