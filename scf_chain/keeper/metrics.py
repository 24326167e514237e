"""What operators alert on, as Prometheus metrics: collections the keeper could not finish."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from scf_chain.db.models import KeeperAction, Receivable
from scf_chain.keeper.keeper import COLLECTION_ACTIONS


@dataclass(frozen=True)
class StalledCollection:
    slot: int
    reason: str  # balance_short, allowance_short, reverted
    shortfall: int
    at: int


def stalled_collections(sessions: sessionmaker[Session]) -> list[StalledCollection]:
    """Receivables still owed whose latest collection attempt was `collect_stalled`.

    The store is the keepers' shared record, so this counts the stalls of every keeper process,
    not only one running beside the gateway. A stall the debtor has since repaid by hand no
    longer counts (the indexed receivable is whole).
    """
    with sessions() as s:
        latest = (select(KeeperAction.slot, func.max(KeeperAction.id).label("id"))
                  .where(KeeperAction.action.in_(COLLECTION_ACTIONS))
                  .group_by(KeeperAction.slot).subquery())
        rows = s.execute(
            select(KeeperAction, Receivable.face_value, Receivable.repaid)
            .join(latest, KeeperAction.id == latest.c.id)
            .join(Receivable, Receivable.slot == KeeperAction.slot)
            .where(KeeperAction.action == "collect_stalled")
            .order_by(KeeperAction.slot)).all()
    return [StalledCollection(int(a.slot or 0), (a.detail or "reverted").partition(":")[0],
                              int(a.amount), int(a.at))
            for a, face, repaid in rows if int(repaid) < int(face)]


def keeper_totals(sessions: sessionmaker[Session]) -> dict[str, tuple[int, int]]:
    """Per keeper action (collect, redeem_batch, collect_stalled, error): how many every keeper
    recorded and the amount they moved (sums in Python: amounts are exact 256-bit integers)."""
    totals: dict[str, tuple[int, int]] = {}
    with sessions() as s:
        for action, amount in s.execute(select(KeeperAction.action, KeeperAction.amount)):
            n, total = totals.get(action, (0, 0))
            totals[action] = (n + 1, total + int(amount or 0))
    return totals


class KeeperCollector(Collector):
    """`scf_collections_stalled{reason}` and `scf_collections_stalled_shortfall{reason}` (in the
    settlement token's smallest unit), and every keeper's payouts and collections so far
    (`scf_keeper_actions_total{action}`, `scf_keeper_amount_total{action}`), read from the
    store at each scrape. `sessions` gives the store's session factory when asked (a gateway
    opens its platform at start-up)."""

    REASONS = ("balance_short", "allowance_short", "reverted")

    def __init__(self, sessions: Callable[[], sessionmaker[Session]]) -> None:
        self.sessions = sessions

    def collect(self) -> Iterator[Any]:
        stalled = stalled_collections(self.sessions())
        count: Counter[str] = Counter(x.reason for x in stalled)
        short: Counter[str] = Counter()
        for x in stalled:
            short[x.reason] += x.shortfall
        g = GaugeMetricFamily("scf_collections_stalled",
                              "Matured receivables still owed whose automatic collection is "
                              "stalled (the keeper's last attempt could not collect everything)",
                              labels=["reason"])
        h = GaugeMetricFamily("scf_collections_stalled_shortfall",
                              "What stalled collections could not pull, in the settlement "
                              "token's smallest unit", labels=["reason"])
        for reason in sorted(set(self.REASONS) | set(count)):
            g.add_metric([reason], count[reason])
            h.add_metric([reason], short[reason])
        yield g
        yield h
        totals = keeper_totals(self.sessions())
        actions = CounterMetricFamily(
            "scf_keeper_actions", "Keeper actions recorded in the store by every keeper: "
            "redeem_batch (a payout to holders), collect, collect_stalled, error",
            labels=["action"])
        amounts = CounterMetricFamily(
            "scf_keeper_amount", "What keepers paid out to holders (redeem_batch) and collected "
            "from debtors (collect), in the settlement token's smallest unit", labels=["action"])
        for action in sorted({"redeem_batch", "collect", *totals}):
            n, total = totals.get(action, (0, 0))
            actions.add_metric([action], n)
            if action in ("redeem_batch", "collect"):
                amounts.add_metric([action], total)
        yield actions
        yield amounts
