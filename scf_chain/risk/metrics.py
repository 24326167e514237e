"""Capital-flow efficiency: days from delivery to cash and financing cost per supplier, days payable per debtor, platform totals."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from scf_chain.db.models import RiskDebtor, RiskEdge, RiskReceivable
from scf_chain.risk.features import DAY


@dataclass(frozen=True)
class SupplierMetrics:
    address: str
    receivables_to_cash: int  # receivables with a delivery date and a first cash
    days_delivery_to_cash: float | None  # mean: evidence delivery → first financing/redemption
    financed_value: int  # face value sold to financiers
    financing_paid: int  # what the financiers paid for it
    annual_financing_cost: float | None  # price-weighted mean implied annual rate


@dataclass(frozen=True)
class DebtorMetrics:
    address: str
    settled: int
    days_payable: float | None  # mean: confirmation → full repayment
    on_time_share: float | None


@dataclass(frozen=True)
class PlatformMetrics:
    financings: int
    financed_value: int
    financing_paid: int
    average_annual_rate: float | None  # price-weighted
    rate_ceiling: float
    financings_above_ceiling: int
    receivables_to_cash: int
    days_delivery_to_cash: float | None
    days_confirmation_to_cash: float | None


@dataclass(frozen=True)
class Metrics:
    platform: PlatformMetrics
    suppliers: list[SupplierMetrics]
    debtors: list[DebtorMetrics]


def _mean(total: float, n: int) -> float | None:
    return None if n == 0 else total / n


def capital_flow_metrics(session: Session, rate_ceiling: float) -> Metrics:
    """Sums over the risk tables (one pass over receivables, financings and debtors)."""
    to_cash: dict[str, list[float]] = {}
    confirm_to_cash: list[float] = []
    for creditor, delivered, issued, cash in session.execute(select(
            RiskReceivable.creditor, RiskReceivable.delivered_at, RiskReceivable.issued_at,
            RiskReceivable.first_cash_at).where(RiskReceivable.first_cash_at.is_not(None))
    ).tuples():
        assert cash is not None
        if delivered is not None:
            to_cash.setdefault(creditor, []).append((cash - delivered) / DAY)
        if issued is not None:
            confirm_to_cash.append((cash - issued) / DAY)
    fin: dict[str, list[int | float]] = {}  # sender -> [value, price, rate·price, rated price]
    above = n = 0
    for sender, value, price, rate in session.execute(select(
            RiskEdge.sender, RiskEdge.value, RiskEdge.price, RiskEdge.annual_rate).where(
            RiskEdge.kind == "financing")).tuples():
        f = fin.setdefault(sender, [0, 0, 0.0, 0])
        f[0] += value
        f[1] += price or 0
        n += 1
        if rate is not None:
            f[2] += rate * (price or 0)
            f[3] += price or 0
            above += rate > rate_ceiling
    suppliers = []
    for addr in sorted(set(to_cash) | set(fin)):
        days = to_cash.get(addr, [])
        f = fin.get(addr, [0, 0, 0.0, 0])
        suppliers.append(SupplierMetrics(addr, len(days), _mean(sum(days), len(days)), int(f[0]),
                                         int(f[1]), None if not f[3] else f[2] / f[3]))
    debtors = [DebtorMetrics(d.address, d.settled_count,
                             _mean(d.payable_seconds_sum / DAY, d.settled_count),
                             _mean(d.on_time_count, d.settled_count))
               for d in session.scalars(select(RiskDebtor).where(RiskDebtor.confirmed_count > 0)
                                        .order_by(RiskDebtor.address))]
    all_days = [d for days in to_cash.values() for d in days]
    total_rated = sum(f[3] for f in fin.values())
    platform = PlatformMetrics(
        financings=n, financed_value=int(sum(f[0] for f in fin.values())),
        financing_paid=int(sum(f[1] for f in fin.values())),
        average_annual_rate=None if not total_rated else
        sum(f[2] for f in fin.values()) / total_rated,
        rate_ceiling=rate_ceiling, financings_above_ceiling=above,
        receivables_to_cash=len(all_days), days_delivery_to_cash=_mean(sum(all_days), len(all_days)),
        days_confirmation_to_cash=_mean(sum(confirm_to_cash), len(confirm_to_cash)))
    return Metrics(platform, suppliers, debtors)
