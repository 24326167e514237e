"""Use cases that take more than one contract call: pay with an allowance, settle a slot, read holdings."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from scf_chain.chain import reverts
from scf_chain.clients import Financed, OfferStatus, ReceivableState, Redeemed, Repaid, TxResult
from scf_chain.db.models import GatewayParticipant, Receivable, Token
from scf_chain.keeper.keeper import due_of
from scf_chain.platform.core import Conflict, NotFound, Platform


def _ensure_allowance(platform: Platform, payer: GatewayParticipant, token: str,
                      amount: int) -> None:
    money = platform.money(payer, token)
    spender = platform.manifest.receivable_token
    if money.allowance(payer.address, spender) < amount:
        money.approve(spender, amount)


def accept_offer(platform: Platform, financier: GatewayParticipant, offer_id: int) -> Financed:
    """Approve exactly the price (if the allowance is short), then accept: delivery vs payment."""
    client = platform.token(financier)
    offer = client.get_offer(offer_id)
    if offer.status == OfferStatus.OPEN:
        rec = client.get_receivable(client.slot_of(offer.escrow_token_id))
        _ensure_allowance(platform, financier, rec.settlement_token, offer.price)
    result = client.accept_offer(offer_id)
    return result


def repay(platform: Platform, debtor: GatewayParticipant, slot: int, amount: int) -> Repaid:
    client = platform.token(debtor)
    rec = client.get_receivable(slot)
    if rec.debtor.lower() == debtor.address.lower() and 0 < amount <= rec.outstanding:
        _ensure_allowance(platform, debtor, rec.settlement_token, amount)
    result = client.repay(slot, amount)
    return result


def authorize_collection(platform: Platform, debtor: GatewayParticipant, slot: int,
                         enabled: bool) -> TxResult:
    """Let the keeper pull what is owed at maturity: the flag, plus an allowance for it."""
    client = platform.token(debtor)
    rec = client.get_receivable(slot)
    result = client.authorize_collection(slot, enabled)
    if enabled and rec.outstanding > 0:
        _ensure_allowance(platform, debtor, rec.settlement_token, rec.outstanding)
    return result


@dataclass(frozen=True)
class Holding:
    token_id: int
    owner: str
    value: int
    due: int


@dataclass(frozen=True)
class Settlement:
    slot: int
    status: str
    face_value: int
    repaid: int
    paid_out: int
    outstanding: int
    maturity: int
    collect_enabled: bool
    holdings: list[Holding]

    @property
    def due_total(self) -> int:
        return sum(h.due for h in self.holdings)


def live_tokens(platform: Platform, slot: int) -> list[Token]:
    platform.sync()
    with platform.sessions() as s:
        return list(s.scalars(select(Token).where(Token.slot == slot, Token.value > 0,
                                                  Token.burned.is_(False))
                              .order_by(Token.token_id)))


def settlement(platform: Platform, slot: int) -> Settlement:
    """The slot's repayment state from the chain, with what each live token would receive now."""
    client = platform.token(platform.operator_account)
    rec = client.get_receivable(slot)
    if rec.face_value == 0:
        raise NotFound(f"no receivable with slot {slot}")
    # redemption pays once matured, or earlier once the debt is whole (as the contract rules)
    redeemable = rec.status in (ReceivableState.MATURED, ReceivableState.OVERDUE,
                                ReceivableState.SETTLED) or rec.repaid == rec.face_value
    holdings = []
    for t in live_tokens(platform, slot):
        try:  # the store may lag the chain: a token it lists can be burned by now
            value = client.value_of(t.token_id)
            if value == 0:
                continue
            owner = client.owner_of(t.token_id)
        except reverts.NonexistentToken:
            continue
        due = (due_of(value, rec.repaid, client.checkpoint_of(t.token_id), rec.face_value)
               if redeemable else 0)
        holdings.append(Holding(t.token_id, owner, value, due))
    return Settlement(slot, rec.status.name.lower(), rec.face_value, rec.repaid, rec.paid_out,
                      rec.outstanding, rec.maturity, rec.collect_enabled, holdings)


def redeem_slot(platform: Platform, caller: GatewayParticipant, slot: int,
                batch_size: int = 50) -> list[Redeemed]:
    """Pay every live token of the slot what is due now (anyone may trigger it; money goes to holders)."""
    state = settlement(platform, slot)
    due = [h.token_id for h in state.holdings if h.due > 0]
    if not due:
        raise Conflict("nothing_due", f"nothing is due to the holders of receivable {slot} now "
                       f"(status {state.status}, repaid {state.repaid}, paid out {state.paid_out})")
    client = platform.token(caller)
    results = [client.redeem_batch(due[i:i + batch_size]) for i in range(0, len(due), batch_size)]
    return results


def tokens_of(platform: Platform, owner: str, limit: int, offset: int) -> tuple[list[Token], int]:
    platform.sync()
    with platform.sessions() as s:
        where = (Token.owner == owner, Token.burned.is_(False), Token.value > 0)
        total = int(s.scalar(select(func.count()).select_from(Token).where(*where)) or 0)
        rows = list(s.scalars(select(Token).where(*where).order_by(Token.token_id)
                              .limit(limit).offset(offset)))
    return rows, total


def visible_slot(platform: Platform, address: str, slot: int) -> bool:
    """Whether a participant is party to a receivable: debtor, creditor, or holder of a part."""
    platform.sync()
    with platform.sessions() as s:
        r = s.get(Receivable, slot)
        if r is None:
            return False
        if address.lower() in (r.debtor, r.creditor):
            return True
        return s.scalar(select(func.count()).select_from(Token)
                        .where(Token.slot == slot, Token.owner == address)) != 0
