"""Risk features from the store: folded from indexed events as they are ingested, read per participant or receivable.

The fold runs inside the projector's transaction (`scf_chain.indexer.projector.Projector.apply`
calls `RiskFold.apply` with the same batch), so the feature tables always agree with the read
models and the indexer cursor, and are rebuilt with them after a reorg. It keeps its own state
(tokens, receivables) so that folding a sequence of events in any chunking gives the same rows as
folding it at once. Values that depend on "now" (overdue, age) are derived at read time from
stored timestamps, against the time of the latest indexed block.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from scf_chain.contracts.encoding import SLOT_SHIFT
from scf_chain.db.models import (
    Base,
    IndexedBlock,
    RiskDebtor,
    RiskDocument,
    RiskEdge,
    RiskHolder,
    RiskPair,
    RiskReceivable,
    RiskToken,
)

if TYPE_CHECKING:
    from scf_chain.indexer.projector import EventRecord

DAY = 86_400
YEAR_DAYS = 365
ZERO_ADDRESS = "0x" + "0" * 40
_IN_CHUNK = 500

M = TypeVar("M", bound=Base)


def implied_annual_rate(value: int, price: int, seconds_to_maturity: int) -> float | None:
    """(value − price) / price × 365 / days to maturity (as the audit trace computes it)."""
    if price <= 0 or seconds_to_maturity <= 0:
        return None
    return (value - price) / price * YEAR_DAYS * DAY / seconds_to_maturity


def _lower(v: Any) -> str:
    return str(v).lower()


def _chunks(items: Sequence[Any], n: int = _IN_CHUNK) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), n):
        yield items[i:i + n]


def _new_debtor(address: str) -> RiskDebtor:
    return RiskDebtor(address=address, credit_limit=None, confirmed_count=0, confirmed_face=0,
                      outstanding_face=0, repaid_total=0, settled_count=0, on_time_count=0,
                      late_seconds_sum=0, late_seconds_max=0, payable_seconds_sum=0,
                      partial_payments=0, face_squares=0, top_supplier_face=0)


def _new_holder(address: str) -> RiskHolder:
    return RiskHolder(address=address, financings=0, financed_value=0, financed_price=0, rated=0,
                      rate_sum=0.0, rate_max=None, first_financings=0, to_first_financing_s=0,
                      splits=0, max_fanout=0, max_depth=0, transfers_out=0, transfers_in=0)


class RiskFold:
    """Folds a block-ordered batch of events into the risk feature tables (caller's transaction).

    Like the projector: every row the batch touches is loaded with a few `IN` queries, events are
    applied in memory in log order, and the session writes them back in one flush; value edges
    go in as one bulk insert.
    """

    def __init__(self, session: Session, token_address: str) -> None:
        self.session = session
        self.contract = token_address.lower()
        self._tokens: dict[int, RiskToken] = {}
        self._receivables: dict[int, RiskReceivable] = {}
        self._debtors: dict[str, RiskDebtor] = {}
        self._holders: dict[str, RiskHolder] = {}
        self._pairs: dict[tuple[str, str], RiskPair] = {}
        self._edges: list[dict[str, Any]] = []

    # -- public -----------------------------------------------------------------------------------
    def apply(self, events: Sequence[EventRecord]) -> None:
        mine = [e for e in events if e.address == self.contract]
        if not mine:
            return
        with self.session.no_autoflush:
            self._prefetch(mine)
            for ev in mine:
                handler = getattr(self, f"_on_{ev.name}", None)
                if handler is not None:
                    handler(ev, ev.args)
        if self._edges:
            self.session.execute(insert(RiskEdge), self._edges)
            self._edges = []
        self.session.flush()

    # -- loading ----------------------------------------------------------------------------------
    def _prefetch(self, events: Sequence[EventRecord]) -> None:
        token_ids: set[int] = set()
        slots: set[int] = set()
        accounts: set[str] = set()
        for ev in events:
            a = ev.args
            if "slot" in a:
                slots.add(int(a["slot"]))
            for k in ("tokenId", "_fromTokenId", "_toTokenId", "escrowTokenId"):
                if k in a:
                    token_ids.add(int(a[k]))
            for k in ("debtor", "creditor", "holder", "financier", "from", "to"):
                if k in a:
                    accounts.add(_lower(a[k]))
        token_ids.discard(0)
        slots.update(t >> SLOT_SHIFT for t in token_ids)
        self._load(RiskToken, RiskToken.token_id, token_ids, self._tokens, lambda o: o.token_id)
        self._load(RiskReceivable, RiskReceivable.slot, slots, self._receivables, lambda o: o.slot)
        for t in self._tokens.values():
            accounts.add(t.owner)
        for r in self._receivables.values():
            accounts.update((r.debtor, r.creditor))
        accounts.discard(ZERO_ADDRESS)
        self._load(RiskDebtor, RiskDebtor.address, accounts, self._debtors, lambda o: o.address)
        self._load(RiskHolder, RiskHolder.address, accounts, self._holders, lambda o: o.address)
        debtors = {r.debtor for r in self._receivables.values()} | {
            _lower(e.args["debtor"]) for e in events if e.name == "Confirmed"}
        for part in _chunks(sorted(debtors)):
            for p in self.session.scalars(select(RiskPair).where(RiskPair.debtor.in_(list(part)))):
                self._pairs[(p.debtor, p.supplier)] = p

    def _load(self, model: type[M], pk: Any, keys: set[Any], cache: dict[Any, M],
              key_of: Any) -> None:
        missing = sorted(k for k in keys if k not in cache)
        for part in _chunks(missing):
            for obj in self.session.scalars(select(model).where(pk.in_(list(part)))):
                cache[key_of(obj)] = obj

    def _debtor(self, address: str) -> RiskDebtor:
        d = self._debtors.get(address)
        if d is None:
            d = _new_debtor(address)
            self.session.add(d)
            self._debtors[address] = d
        return d

    def _holder(self, address: str) -> RiskHolder:
        h = self._holders.get(address)
        if h is None:
            h = _new_holder(address)
            self.session.add(h)
            self._holders[address] = h
        return h

    def _pair(self, debtor: str, supplier: str) -> RiskPair:
        key = (debtor, supplier)
        p = self._pairs.get(key)
        if p is None:
            p = RiskPair(debtor=debtor, supplier=supplier, confirmed_count=0, confirmed_face=0)
            self.session.add(p)
            self._pairs[key] = p
        return p

    def _edge(self, ev: EventRecord, kind: str, slot: int, sender: str, recipient: str,
              value: int, price: int | None = None, offer_id: int | None = None,
              rate: float | None = None) -> None:
        self._edges.append({"kind": kind, "slot": slot, "sender": sender, "recipient": recipient,
                            "value": value, "price": price, "offer_id": offer_id,
                            "annual_rate": rate, "block_time": ev.block_time,
                            "tx_hash": ev.tx_hash, "log_index": ev.log_index})

    # -- the fold ---------------------------------------------------------------------------------
    def _on_CreditLimitSet(self, ev: EventRecord, a: dict[str, Any]) -> None:
        self._debtor(_lower(a["debtor"])).credit_limit = int(a["limit"])

    def _on_Applied(self, ev: EventRecord, a: dict[str, Any]) -> None:
        slot = int(a["slot"])
        r = RiskReceivable(
            slot=slot, debtor=_lower(a["debtor"]), creditor=_lower(a["creditor"]),
            face_value=int(a["faceValue"]), maturity=int(a["maturity"]),
            invoice_key=_lower(a["invoiceKey"]), status="pending", applied_at=ev.block_time,
            issued_at=None, repaid=0, repayments=0, repaid_at=None, first_financed_at=None,
            first_cash_at=None, financings=0, financed_value=0, financed_price=0, tokens=0,
            max_depth=0, max_fanout=0, evidence_checked=False)
        self.session.add(r)
        self._receivables[slot] = r

    def _on_Rejected(self, ev: EventRecord, a: dict[str, Any]) -> None:
        self._receivables[int(a["slot"])].status = "rejected"

    def _on_Withdrawn(self, ev: EventRecord, a: dict[str, Any]) -> None:
        self._receivables[int(a["slot"])].status = "withdrawn"

    def _on_Confirmed(self, ev: EventRecord, a: dict[str, Any]) -> None:
        r = self._receivables[int(a["slot"])]
        r.status = "active"
        r.issued_at = ev.block_time
        face = int(a["faceValue"])
        d = self._debtor(r.debtor)
        p = self._pair(r.debtor, r.creditor)
        old = p.confirmed_face
        p.confirmed_face = old + face
        p.confirmed_count += 1
        d.confirmed_count += 1
        d.confirmed_face += face
        d.outstanding_face += face
        d.face_squares = d.face_squares - old * old + p.confirmed_face * p.confirmed_face
        d.top_supplier_face = max(d.top_supplier_face, p.confirmed_face)

    def _on_Transfer(self, ev: EventRecord, a: dict[str, Any]) -> None:
        token_id = int(a["tokenId"])
        src, dst = _lower(a["from"]), _lower(a["to"])
        slot = token_id >> SLOT_SHIFT
        if src == ZERO_ADDRESS:
            t = RiskToken(token_id=token_id, slot=slot, owner=dst, value=0, depth=0, children=0,
                          minted_at=ev.block_time, minted_tx=ev.tx_hash)
            self.session.add(t)
            self._tokens[token_id] = t
            r = self._receivables.get(slot)
            if r is not None:
                r.tokens += 1
            return
        t = self._tokens[token_id]
        if dst == ZERO_ADDRESS:
            return  # burned: its value leaves with the TransferValue / Redeemed events
        if self.contract not in (src, dst):  # escrow moves are financing's, recorded there
            self._edge(ev, "transfer", slot, src, dst, t.value)
            self._holder(src).transfers_out += 1
            self._holder(dst).transfers_in += 1
        t.owner = dst

    def _on_TransferValue(self, ev: EventRecord, a: dict[str, Any]) -> None:
        src, dst, value = int(a["_fromTokenId"]), int(a["_toTokenId"]), int(a["_value"])
        if dst:
            d = self._tokens[dst]
            d.value += value
        if src:
            s = self._tokens[src]
            s.value -= value
        if not (src and dst):
            return
        slot = dst >> SLOT_SHIFT
        if (d.minted_tx == ev.tx_hash and d.parent_token_id is None and d.value == value
                and s.owner != self.contract and d.owner != self.contract):
            # a split: the new token's value came from `src` (escrow cuts are offers, not splits)
            d.parent_token_id, d.depth = src, s.depth + 1
            d.split_by, d.split_value = s.owner, value
            s.children += 1
            h = self._holder(s.owner)
            h.splits += 1
            h.max_fanout = max(h.max_fanout, s.children)
            h.max_depth = max(h.max_depth, d.depth)
            r = self._receivables.get(slot)
            if r is not None:
                r.max_fanout = max(r.max_fanout, s.children)
                r.max_depth = max(r.max_depth, d.depth)
        if s.owner != d.owner and self.contract not in (s.owner, d.owner):
            self._edge(ev, "transfer", slot, s.owner, d.owner, value)
            self._holder(s.owner).transfers_out += 1
            self._holder(d.owner).transfers_in += 1

    def _on_Financed(self, ev: EventRecord, a: dict[str, Any]) -> None:
        slot = int(a["slot"])
        holder, financier = _lower(a["holder"]), _lower(a["financier"])
        value, price = int(a["value"]), int(a["price"])
        r = self._receivables[slot]
        rate = implied_annual_rate(value, price, r.maturity - ev.block_time)
        self._edge(ev, "financing", slot, holder, financier, value, price, int(a["offerId"]), rate)
        h = self._holder(holder)
        h.financings += 1
        h.financed_value += value
        h.financed_price += price
        if rate is not None:
            h.rated += 1
            h.rate_sum += rate
            h.rate_max = rate if h.rate_max is None else max(h.rate_max, rate)
        r.financings += 1
        r.financed_value += value
        r.financed_price += price
        if r.first_financed_at is None:
            r.first_financed_at = ev.block_time
        if holder == r.creditor and r.first_cash_at is None:
            r.first_cash_at = ev.block_time
            if r.issued_at is not None:
                h.first_financings += 1
                h.to_first_financing_s += ev.block_time - r.issued_at

    def _on_DebtorMoved(self, ev: EventRecord, a: dict[str, Any]) -> None:
        """A key rotation: what is owed on the receivable moves to the new key's exposure; the
        history (confirmations, payments so far, suppliers) stays with the old address."""
        r = self._receivables[int(a["slot"])]
        owed = int(a["outstanding"])
        old = self._debtor(r.debtor)
        old.outstanding_face -= min(owed, old.outstanding_face)
        self._debtor(_lower(a["to"])).outstanding_face += owed
        r.debtor = _lower(a["to"])

    def _on_Repaid(self, ev: EventRecord, a: dict[str, Any]) -> None:
        r = self._receivables[int(a["slot"])]
        amount, total = int(a["amount"]), int(a["totalRepaid"])
        d = self._debtor(r.debtor)
        owed = max(r.face_value - r.repaid, 0)
        d.outstanding_face -= min(amount, owed, d.outstanding_face)
        d.repaid_total += amount
        r.repaid = total
        r.repayments += 1
        if total < r.face_value:
            d.partial_payments += 1
        elif r.repaid_at is None:
            r.repaid_at = ev.block_time
            late = max(0, ev.block_time - r.maturity)
            d.settled_count += 1
            d.on_time_count += late == 0
            d.late_seconds_sum += late
            d.late_seconds_max = max(d.late_seconds_max, late)
            d.payable_seconds_sum += max(0, ev.block_time - (r.issued_at or r.applied_at))

    def _on_Redeemed(self, ev: EventRecord, a: dict[str, Any]) -> None:
        r = self._receivables[int(a["slot"])]
        if _lower(a["holder"]) == r.creditor and r.first_cash_at is None:
            r.first_cash_at = ev.block_time


# -- reading ----------------------------------------------------------------------------------------
def as_of(session: Session) -> int:
    """The time features are computed at: the latest indexed block's (0 before any)."""
    return int(session.scalar(select(func.max(IndexedBlock.timestamp))) or 0)


def _ratio(num: float, den: float) -> float | None:
    return None if den == 0 else num / den


@dataclass(frozen=True)
class ParticipantFeatures:
    """Features of one account, as a debtor and as a supplier or holder (None: no history)."""

    address: str
    as_of: int
    values: dict[str, float | int | None]
    trade: list[dict[str, Any]]  # per counterparty debtor: receivables and documents


DEBTOR_FEATURES = (
    "debtor_confirmed_count", "debtor_confirmed_face", "debtor_outstanding_face",
    "debtor_credit_limit", "debtor_limit_usage", "debtor_settled_count", "debtor_on_time_share",
    "debtor_avg_days_late", "debtor_max_days_late", "debtor_avg_days_payable",
    "debtor_partial_payments", "debtor_overdue_count", "debtor_overdue_face",
    "debtor_max_days_overdue", "debtor_supplier_count", "debtor_supplier_hhi",
    "debtor_top_supplier_share",
)
SUPPLIER_FEATURES = (
    "supplier_receivable_count", "supplier_confirmed_face", "supplier_debtor_count",
    "supplier_top_debtor_share", "supplier_orders", "supplier_order_amount",
    "supplier_deliveries", "supplier_invoices", "supplier_invoice_amount",
    "supplier_evidence_failures", "supplier_evidence_failure_share",
    "holder_financings", "holder_financed_value", "holder_avg_rate", "holder_max_rate",
    "holder_avg_days_to_first_financing", "holder_splits", "holder_max_fanout",
    "holder_max_depth", "holder_transfers_out", "holder_transfers_in",
)
RECEIVABLE_FEATURES = (
    "face_value", "tenor_days", "age_days", "days_to_maturity", "repaid_share", "days_late",
    "financings", "financed_share", "tokens", "max_depth", "max_fanout", "evidence_complete",
    "evidence_consistent", "days_delivery_to_issue",
)


def debtor_values(session: Session, address: str, now: int) -> dict[str, float | int | None]:
    d = session.get(RiskDebtor, address)
    if d is None:
        return dict.fromkeys(DEBTOR_FEATURES)
    overdue = session.execute(select(RiskReceivable.face_value, RiskReceivable.repaid,
                                     RiskReceivable.maturity).where(
        RiskReceivable.debtor == address, RiskReceivable.status == "active",
        RiskReceivable.repaid_at.is_(None), RiskReceivable.maturity < now)).tuples().all()
    pairs = session.scalar(select(func.count()).select_from(RiskPair).where(
        RiskPair.debtor == address)) or 0
    face = d.confirmed_face
    return {
        "debtor_confirmed_count": d.confirmed_count,
        "debtor_confirmed_face": face,
        "debtor_outstanding_face": d.outstanding_face,
        "debtor_credit_limit": d.credit_limit,
        "debtor_limit_usage": None if not d.credit_limit else d.outstanding_face / d.credit_limit,
        "debtor_settled_count": d.settled_count,
        "debtor_on_time_share": _ratio(d.on_time_count, d.settled_count),
        "debtor_avg_days_late": _ratio(d.late_seconds_sum / DAY, d.settled_count),
        "debtor_max_days_late": d.late_seconds_max / DAY if d.settled_count else None,
        "debtor_avg_days_payable": _ratio(d.payable_seconds_sum / DAY, d.settled_count),
        "debtor_partial_payments": d.partial_payments,
        "debtor_overdue_count": len(overdue),
        "debtor_overdue_face": sum(max(f - r, 0) for f, r, _ in overdue),
        "debtor_max_days_overdue": max(((now - m) / DAY for _, _, m in overdue), default=0.0),
        "debtor_supplier_count": pairs,
        "debtor_supplier_hhi": _ratio(d.face_squares, face * face),
        "debtor_top_supplier_share": _ratio(d.top_supplier_face, face),
    }


def supplier_values(session: Session, address: str) -> tuple[dict[str, float | int | None],
                                                             list[dict[str, Any]]]:
    pairs = session.scalars(select(RiskPair).where(RiskPair.supplier == address)).all()
    docs = session.execute(select(RiskDocument.buyer, RiskDocument.kind, RiskDocument.event,
                                  func.count(), func.sum(RiskDocument.amount)).where(
        RiskDocument.seller == address).group_by(RiskDocument.buyer, RiskDocument.kind,
                                                 RiskDocument.event)).tuples().all()
    trade: dict[str, dict[str, Any]] = {}

    def row(debtor: str) -> dict[str, Any]:
        return trade.setdefault(debtor, {"debtor": debtor, "receivables": 0, "confirmed_face": 0,
                                         "orders": 0, "order_amount": 0, "deliveries": 0,
                                         "invoices": 0, "invoice_amount": 0})

    for p in pairs:
        t = row(p.debtor)
        t["receivables"], t["confirmed_face"] = p.confirmed_count, p.confirmed_face
    for buyer, kind, event, n, amount in docs:
        t = row(buyer)
        if kind == "purchase_order":
            t["orders"] += n
            t["order_amount"] += int(amount or 0)
        elif kind == "invoice":
            t["invoices"] += n
            t["invoice_amount"] += int(amount or 0)
        elif event == "delivered":
            t["deliveries"] += n
    total_face = sum(p.confirmed_face for p in pairs)
    checked, failed = session.execute(select(
        func.count(), func.count().filter(RiskReceivable.consistency != "ok")).where(
        RiskReceivable.creditor == address, RiskReceivable.evidence_checked.is_(True),
        RiskReceivable.status.not_in(("rejected", "withdrawn")))).tuples().one()
    h = session.get(RiskHolder, address) or _new_holder(address)
    values: dict[str, float | int | None] = {
        "supplier_receivable_count": sum(p.confirmed_count for p in pairs),
        "supplier_confirmed_face": total_face,
        "supplier_debtor_count": len(pairs),
        "supplier_top_debtor_share": _ratio(max((p.confirmed_face for p in pairs), default=0),
                                            total_face),
        "supplier_orders": sum(t["orders"] for t in trade.values()),
        "supplier_order_amount": sum(t["order_amount"] for t in trade.values()),
        "supplier_deliveries": sum(t["deliveries"] for t in trade.values()),
        "supplier_invoices": sum(t["invoices"] for t in trade.values()),
        "supplier_invoice_amount": sum(t["invoice_amount"] for t in trade.values()),
        "supplier_evidence_failures": failed,
        "supplier_evidence_failure_share": _ratio(failed, checked),
        "holder_financings": h.financings,
        "holder_financed_value": h.financed_value,
        "holder_avg_rate": _ratio(h.rate_sum, h.rated),
        "holder_max_rate": h.rate_max,
        "holder_avg_days_to_first_financing": _ratio(h.to_first_financing_s / DAY,
                                                     h.first_financings),
        "holder_splits": h.splits,
        "holder_max_fanout": h.max_fanout,
        "holder_max_depth": h.max_depth,
        "holder_transfers_out": h.transfers_out,
        "holder_transfers_in": h.transfers_in,
    }
    return values, sorted(trade.values(), key=lambda t: t["debtor"])


def participant_features(session: Session, address: str, now: int | None = None
                         ) -> ParticipantFeatures:
    address = address.lower()
    now = as_of(session) if now is None else now
    values = debtor_values(session, address, now)
    supplier, trade = supplier_values(session, address)
    values.update(supplier)
    return ParticipantFeatures(address, now, values, trade)


@dataclass(frozen=True)
class ReceivableFeatures:
    slot: int
    debtor: str
    creditor: str
    as_of: int
    values: dict[str, float | int | None]
    evidence: dict[str, Any]


def receivable_features(session: Session, slot: int, now: int | None = None
                        ) -> ReceivableFeatures | None:
    r = session.get(RiskReceivable, slot)
    if r is None:
        return None
    now = as_of(session) if now is None else now
    start = r.issued_at or r.applied_at
    settled = r.repaid_at
    late_until = settled if settled is not None else now
    complete = None if not r.evidence_checked else int(bool(
        r.has_order and r.has_delivery and r.has_invoice))
    values: dict[str, float | int | None] = {
        "face_value": r.face_value,
        "tenor_days": (r.maturity - start) / DAY,
        "age_days": max(0, now - start) / DAY,
        "days_to_maturity": (r.maturity - now) / DAY,
        "repaid_share": _ratio(r.repaid, r.face_value),
        "days_late": max(0, late_until - r.maturity) / DAY if r.status == "active" else None,
        "financings": r.financings,
        "financed_share": _ratio(r.financed_value, r.face_value),
        "tokens": r.tokens,
        "max_depth": r.max_depth,
        "max_fanout": r.max_fanout,
        "evidence_complete": complete,
        "evidence_consistent": None if not r.evidence_checked else int(r.consistency == "ok"),
        "days_delivery_to_issue": None if r.delivered_at is None or r.issued_at is None
        else (r.issued_at - r.delivered_at) / DAY,
    }
    evidence = {"checked": r.evidence_checked, "order": r.has_order, "delivery": r.has_delivery,
                "invoice": r.has_invoice, "consistency": r.consistency,
                "delivered_at": r.delivered_at}
    return ReceivableFeatures(r.slot, r.debtor, r.creditor, now, values, evidence)
