"""Trade-fraud detectors: named functions over the risk tables, each with documented parameters, returning findings.

A finding names what it is about (participants, a receivable) and carries a key that identifies
it: the same circumstances always give the same key, so an alert is raised once however often
the detectors run (scf_chain.risk.alerts). Detectors only read; docs/risk.md defines each one.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from scf_chain.db.models import Offer, RiskEdge, RiskPair, RiskReceivable, RiskToken
from scf_chain.risk.features import DAY, debtor_values, implied_annual_rate


class DetectorParams(BaseModel):
    """Every detector's parameters (defaults documented in docs/risk.md)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # circular_trade: cycles of value passed between participants within the window
    cycle_window_days: float = Field(30.0, gt=0)
    cycle_max_length: int = Field(6, ge=2)
    # split_storm: at least `storm_min_parts` parts under `storm_max_part_value`, cut by the
    # seller from the slot within `storm_window_days` before a financing
    storm_min_parts: int = Field(10, ge=2)
    storm_max_part_value: int = Field(100_000, gt=0)  # smallest unit (cents): 1,000.00
    storm_window_days: float = Field(7.0, gt=0)
    # ... or, whatever its amount, under this share of the receivable's face value (a part is
    # small next to the receivable it is cut from; an amount alone is dodged by a cent)
    storm_max_part_share: float = Field(0.05, ge=0, lt=1)
    # above_market_rate: implied annual rate of an open or accepted offer above the ceiling
    rate_ceiling: float = Field(0.12, gt=0)
    # concentration: a supplier with at least `concentration_min_receivables` receivables, at
    # least `concentration_min_share` of their face on one debtor that is weak: over its credit
    # limit, on-time share below `weak_on_time_share`, or overdue more than `weak_overdue_days`
    concentration_min_share: float = Field(0.9, gt=0, le=1)
    concentration_min_receivables: int = Field(2, ge=1)
    weak_on_time_share: float = Field(0.5, ge=0, le=1)
    weak_overdue_days: float = Field(0.0, ge=0)


@dataclass(frozen=True)
class Finding:
    detector: str
    key: str
    severity: str  # high, medium, low
    summary: str
    parties: tuple[str, ...]
    slot: int | None = None
    details: dict[str, Any] = field(default_factory=dict)


def _key(*parts: object) -> str:
    text = "|".join(str(p) for p in parts)
    return text if len(text) <= 200 else "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def circular_trade(session: Session, p: DetectorParams, now: int) -> list[Finding]:
    """Value that travels around a loop of participants back to where it started.

    Two rules. (1) A loop of participants, every hop within `cycle_window_days` of the others:
    transfers and financings up to `now` (a financing inside the loop is self-financing through
    related parties: the financier's side passes the value back). Loops of up to
    `cycle_max_length` participants (networkx simple_cycles with a length bound). A finding is
    the loop (rotated to start at its smallest address) and the receivables of the hops in its
    tightest window. (2) Value of a receivable that came back to its own creditor from someone
    else, through any number of hops and over any time: the creditor held all of the receivable
    once, so whatever of it returns has been around a loop, however long or slow. A receivable
    already on a loop of rule 1 is not reported again."""
    window = int(p.cycle_window_days * DAY)
    edges = session.execute(select(RiskEdge.sender, RiskEdge.recipient, RiskEdge.slot,
                                   RiskEdge.kind, RiskEdge.block_time).where(
        RiskEdge.block_time <= now)).tuples().all()
    g: nx.DiGraph = nx.DiGraph()
    on: dict[tuple[str, str], list[tuple[int, int, str]]] = defaultdict(list)
    for u, v, slot, kind, t in edges:
        g.add_edge(u, v)
        on[(u, v)].append((t, slot, kind))
    findings = []
    looped: set[int] = set()
    for cycle in nx.simple_cycles(g, length_bound=p.cycle_max_length):
        i = cycle.index(min(cycle))
        loop = cycle[i:] + cycle[:i]
        hops = list(zip(loop, loop[1:] + loop[:1], strict=True))
        span = _tightest([on[h] for h in hops])
        if span is None or span[1] - span[0] > window:
            continue
        inside = [(slot, kind) for h in hops for t, slot, kind in on[h] if span[0] <= t <= span[1]]
        slots = sorted({slot for slot, _ in inside})
        looped.update(slots)
        financing = any(kind == "financing" for _, kind in inside)
        findings.append(Finding(
            "circular_trade", _key("->".join(loop), ",".join(map(str, slots))), "high",
            f"value went around a loop of {len(loop)} participants within "
            f"{(span[1] - span[0]) / DAY:.1f} days"
            + (" including a financing (self-financing)" if financing else ""),
            tuple(loop), slots[0] if len(slots) == 1 else None,
            {"loop": loop, "slots": [str(s) for s in slots], "self_financing": financing,
             "first_at": span[0], "last_at": span[1], "window_days": p.cycle_window_days,
             "rule": "loop_in_window"}))
    return findings + _returned_to_creditor(session, edges, looped)


def _returned_to_creditor(session: Session, edges: Sequence[tuple[str, str, int, str, int]],
                          looped: set[int]) -> list[Finding]:
    creditors = dict(session.execute(
        select(RiskReceivable.slot, RiskReceivable.creditor).distinct()
        .join(RiskEdge, and_(RiskEdge.slot == RiskReceivable.slot,
                             RiskEdge.recipient == RiskReceivable.creditor))).tuples().all())
    by_slot: dict[int, list[tuple[str, str, int, str, int]]] = defaultdict(list)
    for e in edges:
        if e[2] in creditors and e[2] not in looped:
            by_slot[e[2]].append(e)
    findings = []
    for slot, mine in sorted(by_slot.items()):
        creditor = creditors[slot]
        back = sorted((t, u) for u, v, _, _, t in mine if v == creditor and u != creditor)
        if not back:
            continue
        g: nx.DiGraph = nx.DiGraph()
        g.add_edges_from((u, v) for u, v, *_ in mine)
        try:
            path = nx.shortest_path(g, creditor, back[0][1])
        except nx.NetworkXNoPath:  # it came from someone the creditor never passed it to
            path = [back[0][1]]
        loop = [str(x) for x in (path if path[0] == creditor else [creditor, *path])]
        first = min(t for *_, t in mine)
        financing = any(kind == "financing" for *_, kind, _ in mine)
        findings.append(Finding(
            "circular_trade", _key("returned", slot), "high",
            f"value of the receivable came back to its creditor through {len(loop)} "
            f"participants over {(back[0][0] - first) / DAY:.1f} days"
            + (" including a financing (self-financing)" if financing else ""),
            tuple(loop), slot,
            {"loop": loop, "slots": [str(slot)], "self_financing": financing,
             "first_at": first, "last_at": back[0][0], "rule": "returned_to_creditor"}))
    return findings


def _tightest(hops: list[list[tuple[int, int, str]]]) -> tuple[int, int] | None:
    """The shortest time span holding at least one edge of every hop (a sliding window over the
    hops' edges in time order)."""
    items = sorted((e[0], h) for h, edges in enumerate(hops) for e in edges)
    need = len(hops)
    count = [0] * need
    covered = lo = 0
    best: tuple[int, int] | None = None
    for t, h in items:
        count[h] += 1
        covered += count[h] == 1
        while covered == need:
            start, first = items[lo]
            if best is None or t - start < best[1] - best[0]:
                best = (start, t)
            count[first] -= 1
            covered -= count[first] == 0
            lo += 1
    return best


def split_storm(session: Session, p: DetectorParams, now: int) -> list[Finding]:
    """A financing preceded, within `storm_window_days`, by the seller cutting at least
    `storm_min_parts` small parts from the same receivable: each under `storm_max_part_value`,
    or under `storm_max_part_share` of the receivable's face value."""
    fin = RiskEdge.__table__.alias("fin")
    part = RiskToken.__table__.alias("part")
    rec = RiskReceivable.__table__.alias("rec")
    window = int(p.storm_window_days * DAY)
    # the share as a whole-number comparison (the columns are 78-digit numerics): parts·10⁶ <
    # face·share·10⁶
    share_ppm = int(round(p.storm_max_part_share * 1_000_000))
    small = or_(part.c.split_value < p.storm_max_part_value,
                part.c.split_value * 1_000_000 < rec.c.face_value * share_ppm)
    rows = session.execute(
        select(fin.c.offer_id, fin.c.slot, fin.c.sender, fin.c.block_time, func.count())
        .join(rec, rec.c.slot == fin.c.slot)
        .join(part, and_(part.c.slot == fin.c.slot, part.c.split_by == fin.c.sender, small,
                         part.c.minted_at <= fin.c.block_time,
                         part.c.minted_at >= fin.c.block_time - window))
        .where(fin.c.kind == "financing", fin.c.block_time <= now)
        .group_by(fin.c.offer_id, fin.c.slot, fin.c.sender, fin.c.block_time)
        .having(func.count() >= p.storm_min_parts)).tuples().all()
    return [Finding("split_storm", _key("offer", offer_id), "medium",
                    f"{n} parts under {p.storm_max_part_value} or "
                    f"{p.storm_max_part_share:.0%} of the face value cut within "
                    f"{p.storm_window_days:g} days before a financing", (seller,), slot,
                    {"offer_id": str(offer_id), "parts": n, "financed_at": at})
            for offer_id, slot, seller, at, n in rows]


def above_market_rate(session: Session, p: DetectorParams, now: int) -> list[Finding]:
    """An accepted offer whose implied annual rate (at acceptance) exceeds `rate_ceiling`, or an
    open one whose rate does as of `now`: (value − price) / price × 365 / days to maturity."""
    findings = []
    accepted = session.execute(select(RiskEdge.offer_id, RiskEdge.slot, RiskEdge.sender,
                                      RiskEdge.recipient, RiskEdge.annual_rate).where(
        RiskEdge.kind == "financing", RiskEdge.annual_rate > p.rate_ceiling,
        RiskEdge.block_time <= now)).tuples().all()
    for offer_id, slot, seller, financier, rate in accepted:
        assert offer_id is not None and rate is not None  # set on every financing edge
        findings.append(_rate_finding(offer_id, slot, seller, financier, rate, p, "accepted"))
    open_offers = session.execute(select(Offer.offer_id, Offer.slot, Offer.holder,
                                         Offer.financier, Offer.value, Offer.price,
                                         RiskReceivable.maturity)
                                  .join(RiskReceivable, RiskReceivable.slot == Offer.slot)
                                  .where(Offer.status == "open")).tuples().all()
    for offer_id, slot, holder, financier, value, price, maturity in open_offers:
        rate = implied_annual_rate(value, price, maturity - now)
        if rate is not None and rate > p.rate_ceiling:
            findings.append(_rate_finding(offer_id, slot, holder, financier, rate, p, "open"))
    return findings


def _rate_finding(offer_id: int, slot: int, seller: str, financier: str, rate: float,
                  p: DetectorParams, state: str) -> Finding:
    parties = (seller,) if int(financier, 16) == 0 else (seller, financier)
    return Finding("above_market_rate", _key("offer", offer_id), "medium",
                   f"implied annual rate {rate:.2%} above the ceiling {p.rate_ceiling:.2%} "
                   f"({state} offer)", parties, slot,
                   {"offer_id": str(offer_id), "annual_rate": rate, "ceiling": p.rate_ceiling,
                    "offer": state})


def fictitious_trade(session: Session, p: DetectorParams, now: int) -> list[Finding]:
    """A receivable whose evidence does not describe a real trade: no invoice, order or delivery
    found for it, a delivery dated after the invoice, amounts that do not match the order, or any
    other failure of the platform's cross-document check (the finding carries its code)."""
    rows = session.execute(select(RiskReceivable.slot, RiskReceivable.debtor,
                                  RiskReceivable.creditor, RiskReceivable.consistency).where(
        RiskReceivable.evidence_checked.is_(True), RiskReceivable.consistency != "ok",
        RiskReceivable.status != "rejected", RiskReceivable.status != "withdrawn")).tuples().all()
    return [Finding("fictitious_trade", _key("slot", slot), "high",
                    f"the receivable's evidence fails the cross-document check: {code}",
                    (creditor, debtor), slot, {"code": code})
            for slot, debtor, creditor, code in rows]


def concentration(session: Session, p: DetectorParams, now: int) -> list[Finding]:
    """A supplier with at least `concentration_min_receivables` confirmed receivables and at least
    `concentration_min_share` of their face value on one debtor that is weak (over its credit
    limit, on-time share below `weak_on_time_share`, or overdue beyond `weak_overdue_days`)."""
    totals = dict(session.execute(select(RiskPair.supplier, func.count()).group_by(
        RiskPair.supplier)).tuples().all())
    pairs = session.scalars(select(RiskPair).where(
        RiskPair.confirmed_count >= 1)).all()
    by_supplier: dict[str, list[RiskPair]] = defaultdict(list)
    for pair in pairs:
        by_supplier[pair.supplier].append(pair)
    findings = []
    health: dict[str, tuple[bool, list[str]]] = {}
    for supplier, mine in by_supplier.items():
        count = sum(x.confirmed_count for x in mine)
        face = sum(x.confirmed_face for x in mine)
        top = max(mine, key=lambda x: x.confirmed_face)
        if count < p.concentration_min_receivables or face == 0:
            continue
        share = top.confirmed_face / face
        if share < p.concentration_min_share:
            continue
        if top.debtor not in health:
            health[top.debtor] = _weakness(session, top.debtor, p, now)
        weak, why = health[top.debtor]
        if weak:
            findings.append(Finding(
                "concentration", _key(supplier, top.debtor), "medium",
                f"{share:.0%} of the supplier's receivables are on one weak debtor "
                f"({'; '.join(why)})", (supplier, top.debtor), None,
                {"share": share, "receivables": count, "debtors": totals.get(supplier, 0),
                 "weakness": why}))
    return findings


def _weakness(session: Session, debtor: str, p: DetectorParams, now: int) -> tuple[bool, list[str]]:
    v = debtor_values(session, debtor, now)
    why = []
    usage = v["debtor_limit_usage"]
    if usage is not None and usage > 1:
        why.append(f"outstanding {usage:.0%} of its credit limit")
    on_time = v["debtor_on_time_share"]
    if on_time is not None and on_time < p.weak_on_time_share:
        why.append(f"repaid {on_time:.0%} on time")
    overdue = v["debtor_max_days_overdue"]
    if v["debtor_overdue_count"] and overdue is not None and overdue > p.weak_overdue_days:
        why.append(f"overdue {overdue:.1f} days")
    return bool(why), why


Detector = Callable[[Session, DetectorParams, int], list[Finding]]

DETECTORS: dict[str, Detector] = {
    "circular_trade": circular_trade,
    "split_storm": split_storm,
    "above_market_rate": above_market_rate,
    "fictitious_trade": fictitious_trade,
    "concentration": concentration,
}


def run_detectors(session: Session, p: DetectorParams, now: int,
                  only: list[str] | None = None) -> list[Finding]:
    out: list[Finding] = []
    for name, fn in DETECTORS.items():
        if only is None or name in only:
            out += fn(session, p, now)
    return out
