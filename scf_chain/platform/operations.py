"""Use cases that take more than one contract call: pay with an allowance, settle a slot, read holdings."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from scf_chain.chain import reverts
from scf_chain.clients import Financed, OfferStatus, ReceivableState, Redeemed, Repaid, TxResult
from scf_chain.clients import Receivable as ChainReceivable
from scf_chain.contracts.encoding import DERIVED_RECEIVABLE_STATUSES, derive_status
from scf_chain.db.models import GatewayParticipant, KeeperAction, Receivable, Token
from scf_chain.errors import Conflict, NotFound
from scf_chain.keeper.keeper import COLLECTION_ACTIONS, due_of
from scf_chain.platform.core import Platform

# Receivables whose face value counts in the contract's `outstandingOf(debtor)`.
CONFIRMED = (ReceivableState.ACTIVE, ReceivableState.MATURED, ReceivableState.OVERDUE,
             ReceivableState.SETTLED)


def collection_reserve(platform: Platform, account: str, token: str,
                       authorizing: int | None = None) -> int:
    """What keepers may still pull from `account` in `token`: Σ (face − repaid) over its confirmed
    receivables in `token` whose collection is authorized (`authorizing`: a slot to count as
    authorized already), read from the chain; plus any part of the account's outstanding debt
    that the store does not list yet (a store behind the chain counts as owed in every token).

    The store only says which slots to read; every amount and flag comes from the chain. The
    total `outstandingOf(account)` is read first: amounts only fall between reads (payments and
    collections; a flag changes only under the account's lock), so a later read can only make
    the listed part smaller and the unlisted remainder larger, never the sum too small.
    """
    client = platform.token(platform.operator_account)
    owed = client.outstanding_of(account)
    if owed == 0:
        return 0
    platform.sync()
    with platform.sessions() as s:
        slots = set(s.scalars(select(Receivable.slot).where(
            Receivable.debtor == account, Receivable.status.in_(("pending", "active")),
            Receivable.repaid < Receivable.face_value)))
    if authorizing is not None:
        slots.add(authorizing)
    listed = reserve = 0
    for slot in sorted(slots):
        rec = client.get_receivable(slot)
        if rec.status not in CONFIRMED or rec.debtor.lower() != account.lower():
            continue
        listed += rec.outstanding
        if ((rec.collect_enabled or slot == authorizing)
                and rec.settlement_token.lower() == token.lower()):
            reserve += rec.outstanding
    return reserve + max(0, owed - listed)


def _set_allowance(platform: Platform, payer: GatewayParticipant, token: str,
                   target: int) -> None:
    """Set the payer's allowance to the contract to exactly `target` (`approve` is absolute).

    Callers hold the payer's account lock, compute `target` as the collection reserve plus what
    the call they are about to make pulls, and make that call before releasing the lock. Why the
    allowance is then never too small: the contract pulls from an account only in `collect` (a
    slot the debtor authorized, at most its face − repaid), `repay` and `acceptOffer` (from the
    caller, the exact amount); each pull lowers the allowance and what is still to be pulled by
    the same amount, so the allowance stays ≥ the reserve plus the pending call. Why a larger
    allowance is harmless: the same rules bound every pull by what is owed on authorized
    receivables or what the account itself pays, whatever the allowance says; the surplus (a
    paying call that failed, a store behind the chain) is set right by the account's next
    allowance-using operation.
    """
    money = platform.money(payer, token)
    spender = platform.manifest.receivable_token
    if money.allowance(payer.address, spender) != target:
        money.approve(spender, target)


@contextmanager
def holding(platform: Platform, who: GatewayParticipant) -> Iterator[GatewayParticipant]:
    """Hold `who`'s account lock; yields the participant as it is under the lock.

    A key rotation holds the same lock, so one that finished while we waited has moved the
    participant to a new address (and key): its row is read again under the lock, and the new
    address's lock taken instead, so the operation signs with the key that holds the money.
    """
    while True:
        with platform.account_locks.hold(who.address):
            current = platform.participant(who.name)
            if current.address.lower() == who.address.lower():
                yield current
                return
        who = current


def accept_offer(platform: Platform, financier: GatewayParticipant, offer_id: int) -> Financed:
    """Approve the price on top of the financier's collection reserve, then accept (DvP)."""
    with holding(platform, financier) as financier:
        client = platform.token(financier)
        offer = client.get_offer(offer_id)
        if offer.status == OfferStatus.OPEN:
            rec = client.get_receivable(client.slot_of(offer.escrow_token_id))
            reserve = collection_reserve(platform, financier.address, rec.settlement_token)
            _set_allowance(platform, financier, rec.settlement_token, reserve + offer.price)
        return client.accept_offer(offer_id)


def repay(platform: Platform, payer: GatewayParticipant, slot: int, amount: int) -> Repaid:
    """Pay `amount` towards a receivable with an allowance that keeps the payer's collection
    reserve whole (an amount above what is outstanding goes to the contract, which refuses it)."""
    with holding(platform, payer) as payer:
        client = platform.token(payer)
        rec = client.get_receivable(slot)
        if rec.status in CONFIRMED and 0 < amount <= rec.outstanding:
            token = rec.settlement_token
            reserve = collection_reserve(platform, payer.address, token)
            # the debtor repaying a slot it authorized pays out of that slot's part of the
            # reserve (amount ≤ its outstanding); anything else pulls on top of the reserve
            own = rec.collect_enabled and rec.debtor.lower() == payer.address.lower()
            _set_allowance(platform, payer, token, reserve if own else reserve + amount)
        return client.repay(slot, amount)


def authorize_collection(platform: Platform, debtor: GatewayParticipant, slot: int,
                         enabled: bool) -> TxResult:
    """Let keepers pull what is owed at maturity (or stop them): the flag, and the debtor's
    allowance reset to everything owed on its collection-authorized receivables."""
    with holding(platform, debtor) as debtor:
        client = platform.token(debtor)
        rec = client.get_receivable(slot)
        if rec.debtor.lower() != debtor.address.lower() or rec.status not in CONFIRMED:
            return client.authorize_collection(slot, enabled)  # the contract says why not
        token = rec.settlement_token
        if enabled:  # the allowance first: a keeper never finds the flag without it
            reserve = collection_reserve(platform, debtor.address, token, authorizing=slot)
            _set_allowance(platform, debtor, token, reserve)
            return client.authorize_collection(slot, True)
        result = client.authorize_collection(slot, False)
        _set_allowance(platform, debtor, token,
                       collection_reserve(platform, debtor.address, token))
        return result


@dataclass(frozen=True)
class Holding:
    token_id: int
    owner: str
    value: int
    due: int


@dataclass(frozen=True)
class Collection:
    """Automatic collection of one receivable, as far as the keeper got.

    status: `not_authorized` (the debtor has not authorized it), `collected` (nothing is owed any
    more), `waiting_maturity`, `due` (matured and owed; no keeper has tried since), `stalled` (the
    last keeper attempt could not collect everything: `reason` is `balance_short`,
    `allowance_short` or `reverted`, `shortfall` what it could not pull).
    """

    enabled: bool
    status: str
    reason: str | None = None
    detail: str | None = None
    last_attempt_at: int | None = None
    shortfall: int = 0


def collection_status(platform: Platform, rec: ChainReceivable) -> Collection:
    with platform.sessions() as s:
        last = s.scalars(select(KeeperAction)
                         .where(KeeperAction.slot == rec.slot,
                                KeeperAction.action.in_(COLLECTION_ACTIONS))
                         .order_by(KeeperAction.id.desc()).limit(1)).first()
    at = last.at if last is not None else None
    if not rec.collect_enabled:
        return Collection(False, "not_authorized", last_attempt_at=at)
    if rec.outstanding == 0:
        return Collection(True, "collected", last_attempt_at=at)
    if rec.status not in (ReceivableState.MATURED, ReceivableState.OVERDUE):
        return Collection(True, "waiting_maturity", last_attempt_at=at)
    if last is not None and last.action == "collect_stalled":
        code, _, why = (last.detail or "reverted").partition(": ")
        return Collection(True, "stalled", code, why or None, at, int(last.amount))
    return Collection(True, "due", last_attempt_at=at)


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
    collection: Collection

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
                      rec.outstanding, rec.maturity, rec.collect_enabled, holdings,
                      collection_status(platform, rec))


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


DERIVED_STATUSES = DERIVED_RECEIVABLE_STATUSES


def derived_status(r: Receivable, now: int) -> str:
    """A stored receivable's status as the contract's `statusOf` gives it at chain time `now`
    (encoding.derive_status)."""
    return derive_status(r.status, r.face_value, r.repaid, r.paid_out, r.maturity, now)


def derived_status_filter(status: str, now: int) -> list[Any]:
    """SQL conditions on `Receivable` selecting those whose `derived_status` is `status`."""
    if status not in DERIVED_STATUSES:
        return [Receivable.status == status]
    where: list[Any] = [Receivable.status == "active"]
    if status == "settled":
        return [*where, Receivable.paid_out == Receivable.face_value]
    where.append(Receivable.paid_out != Receivable.face_value)
    if status == "active":
        return [*where, Receivable.maturity > now]
    where.append(Receivable.maturity <= now)
    if status == "matured":
        return [*where, Receivable.repaid == Receivable.face_value]
    return [*where, Receivable.repaid != Receivable.face_value]
