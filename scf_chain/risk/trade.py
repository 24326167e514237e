"""Scorecards trained on trade: features read from the store at the end of one period, labelled by what each debtor and supplier did in the next.

A scorecard must judge the future from the past. The features of every participant are taken
from the store (the indexer's fold and the evidence pass, exactly what the risk routes read) at
the end of the observation period; the label is the outcome of the following period:
- a debtor is bad if, in the outcome period, it left a receivable unpaid (default) or paid one
  more than `late_days` days after maturity;
- a supplier is bad if, in the outcome period, one of its receivables carried trade fraud.

The data come from a simulated market (`scf_chain.risk.simulate`, two rounds: the first is
observed, the second gives the outcomes), whose hidden debtor health and dishonest suppliers are
the ground truth; the store holds nothing else than it would in production.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pandas as pd

from scf_chain.risk.data import TrainingSet, training_set
from scf_chain.risk.features import DEBTOR_FEATURES, SUPPLIER_FEATURES, as_of, participant_features
from scf_chain.risk.model import BUNDLE_FORMAT, ModelBundle, ScorecardModel
from scf_chain.risk.train import ScorecardSettings, fit_scorecard

if TYPE_CHECKING:
    from scf_chain.platform.core import Platform
    from scf_chain.risk.simulate import Outcome, SimConfig, SimResult

TARGET = "bad_next_period"
LATE_DAYS = 30

Row = dict[str, float | int | None]

# A market has a few hundred debtors and suppliers, not thousands of loans: bins of at least a
# tenth of the rows, each numeric feature's points rising or falling with it (no peaks or
# valleys, which a small sample fits to its noise).
TRADE_SETTINGS = ScorecardSettings(monotonic_trend="auto_asc_desc", min_bin_size=0.10)


def shipped_market(seed: int = 2026, receivables: int = 3_200, workers: int = 4) -> SimConfig:
    """The market the shipped scorecards are trained on (scripts/train_risk_model.py): two
    rounds, 200 debtors of health 0.70–0.99, 160 tier-1 suppliers of which 15 % dishonest,
    6 % fraud and 2 % evasive fraud."""
    from scf_chain.risk.simulate import SimConfig

    return SimConfig(receivables=receivables, debtors=receivables // 16,
                     suppliers=receivables // 20, tier2=40, banks=6, fraud_share=0.06,
                     evasion_share=0.02, dishonest_share=0.15, health=(0.70, 0.99), rounds=2,
                     seed=seed, workers=workers)


def snapshot(platform: Platform, addresses: Iterable[str]) -> dict[str, Row]:
    """Every address's features as the store holds them now (the evidence pass run first)."""
    from scf_chain.risk.service import service_for

    platform.sync(force=True)
    service_for(platform).refresh(detect=False)
    with platform.sessions() as s:
        now = as_of(s)
        return {a.lower(): participant_features(s, a, now).values for a in addresses}


def debtor_labels(outcomes: Iterable[Outcome], period: int, late_days: int = LATE_DAYS
                  ) -> dict[str, int]:
    """1 for a debtor that defaulted or paid more than `late_days` late in `period`, else 0."""
    bad: dict[str, int] = {}
    for o in outcomes:
        if o.round == period:
            hit = o.repaid == "default" or (o.repaid == "late" and o.days_late > late_days)
            bad[o.debtor] = max(bad.get(o.debtor, 0), int(hit))
    return bad


def supplier_labels(outcomes: Iterable[Outcome], period: int) -> dict[str, int]:
    """1 for a supplier one of whose receivables in `period` carried injected fraud."""
    bad: dict[str, int] = {}
    for o in outcomes:
        if o.round == period:
            bad[o.supplier] = max(bad.get(o.supplier, 0), int(o.pattern is not None))
    return bad


def frame(features: dict[str, Row], labels: dict[str, int], columns: Iterable[str]
          ) -> pd.DataFrame:
    """One row per labelled participant: its features (missing when it had no history) and
    the target."""
    cols = list(columns)
    rows = []
    for address in sorted(labels):
        f = features.get(address, {})
        rows.append({**{c: f.get(c) for c in cols}, TARGET: labels[address]})
    out = pd.DataFrame(rows, columns=[*cols, TARGET])
    for c in cols:  # all-missing columns stay numeric
        out[c] = pd.to_numeric(out[c], errors="coerce")
    return out


@dataclass(frozen=True)
class TradeTraining:
    bundle: ModelBundle
    debtors: pd.DataFrame
    suppliers: pd.DataFrame
    result: SimResult


def fit_trade_scorecards(debtors: pd.DataFrame, suppliers: pd.DataFrame,
                         settings: ScorecardSettings | None = None, *, version: str,
                         training: dict[str, Any], now: datetime | None = None) -> ModelBundle:
    """Fit the debtor and the supplier scorecard from their labelled frames."""
    created = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    cards: dict[str, ScorecardModel] = {}
    for kind, data in (("debtor", debtors), ("supplier", suppliers)):
        # a feature no participant has a value of cannot be binned: it is left out of the inputs
        empty = [c for c in data.columns if c != TARGET and data[c].isna().all()]
        ts: TrainingSet = training_set(data.drop(columns=empty), TARGET, bad_value="1")
        cards[kind] = fit_scorecard(ts, settings or TRADE_SETTINGS,
                                    model_version=f"{version}-{kind}", now=created)
    return ModelBundle(
        format=BUNDLE_FORMAT, bundle_version=version,
        created_at=created.isoformat().replace("+00:00", "Z"),
        description="Debtor and supplier scorecards trained on a simulated supply chain "
                    "market: features from the store at the end of the first round, outcomes "
                    f"of the second (debtor: default or more than {LATE_DAYS} days late; "
                    "supplier: injected trade fraud).",
        training=training, scorecards=cards)


def simulate_and_train(platform: Platform, cfg: SimConfig,
                       settings: ScorecardSettings | None = None, *,
                       version: str | None = None) -> TradeTraining:
    """Run a two-round market on `platform`, take every participant's features from the store
    at the end of round 1, label them by round 2, and fit both scorecards."""
    from scf_chain.risk.simulate import simulate

    if cfg.rounds != 2:
        raise ValueError("training needs a market of two rounds (observed, then outcomes)")
    taken: dict[str, Row] = {}

    def at_round_end(r: int) -> None:
        if r == 0:
            taken.update(snapshot(platform, _participants(platform)))

    result = simulate(platform, cfg, on_round_end=at_round_end)
    debtors = frame(taken, debtor_labels(result.outcomes, 1), DEBTOR_FEATURES)
    suppliers = frame(taken, supplier_labels(result.outcomes, 1), SUPPLIER_FEATURES)
    training = describe_training(cfg, result.receivables, debtors, suppliers,
                                 "python scripts/train_risk_model.py")
    bundle = fit_trade_scorecards(debtors, suppliers, settings,
                                  version=version or f"trade-sim-s{cfg.seed}",
                                  training=training)
    return TradeTraining(bundle, debtors, suppliers, result)


def describe_training(cfg: SimConfig, receivables: int, debtors: pd.DataFrame,
                      suppliers: pd.DataFrame, regenerate: str) -> dict[str, Any]:
    """What a bundle records of the market it was trained on, and how to make it again."""
    return {
        "source": "scf_chain.risk.simulate", "seed": cfg.seed, "receivables": receivables,
        "debtors": cfg.debtors, "suppliers": cfg.suppliers, "fraud_share": cfg.fraud_share,
        "evasion_share": cfg.evasion_share, "dishonest_share": cfg.dishonest_share,
        "health": list(cfg.health), "late_days": LATE_DAYS, "debtor_rows": len(debtors),
        "debtor_bad": int(debtors[TARGET].sum()), "supplier_rows": len(suppliers),
        "supplier_bad": int(suppliers[TARGET].sum()), "regenerate": regenerate,
    }


def _participants(platform: Platform) -> list[str]:
    from scf_chain.db.models import GatewayParticipant

    with platform.sessions() as s:
        return [a for (a,) in s.query(GatewayParticipant.address)]


def outcome_counts(outcomes: Iterable[Outcome]) -> dict[int, dict[str, int]]:
    """Per round: how many receivables were repaid on time, late, or not at all."""
    out: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for o in outcomes:
        out[o.round][o.repaid] += 1
    return {r: dict(v) for r, v in out.items()}
