"""The risk service over an indexed store: a model trained on store features scores
participants with reasons; without a model no score is made up; capital-flow metrics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from scf_chain.indexer import Indexer
from scf_chain.risk.data import training_set
from scf_chain.risk.detectors import DetectorParams
from scf_chain.risk.features import implied_annual_rate
from scf_chain.risk.model import save_model
from scf_chain.risk.service import NO_MODEL, RiskService
from scf_chain.risk.train import fit_scorecard
from tests.indexer.fixtures import (  # noqa: F401  (fixtures)
    _deployed,
    _pg_database,
    _sqlite_template,
    deployed,
    store,
)
from tests.indexer.scenario import run_scenario
from tests.risk.synthetic import FAST, synthetic_frame


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A scorecard trained on a table with the store's debtor feature names."""
    frame = synthetic_frame().drop(columns=["sector"]).rename(columns={
        "days_late": "debtor_avg_days_late", "on_time_share": "debtor_on_time_share"})
    model = fit_scorecard(training_set(frame, "status", bad_value="default"), FAST,
                          model_version="store-features-test")
    path = tmp_path_factory.mktemp("model") / "model.json"
    save_model(model, path)
    return path


@pytest.fixture
def indexed(store, deployed) -> Any:  # type: ignore[no-untyped-def]  # noqa: F811
    system, dep = deployed
    facts = run_scenario(system)
    Indexer(system.chain, store.sessions, dep, confirmations=0).index_once()
    return store, system, facts


def test_a_model_on_store_features_scores_with_reasons(indexed, model_file: Path) -> None:  # type: ignore[no-untyped-def]
    db, system, _ = indexed
    svc = RiskService(db.sessions, None, DetectorParams(), model_file)
    out = svc.participant(system.debtor)
    assert out["model_version"] == "store-features-test"
    assert out["grade"] in "ABCDE" and 0 < out["pd"] < 1 and isinstance(out["score"], int)
    # repaid 0 % on time and a day late: the on-time share is among the adverse reasons
    codes = [r["code"] for r in out["reasons"]]
    assert "debtor_on_time_share" in codes
    text = next(r for r in out["reasons"] if r["code"] == "debtor_on_time_share")
    assert text["text_en"].startswith("Share repaid on time") and "按期清偿比例" in text["text_zh"]
    # a holder with no debtor history: every model input missing, still scored (missing bins)
    assert svc.participant(system.holders[2])["score"] is not None


def test_no_model_no_score(indexed) -> None:  # type: ignore[no-untyped-def]
    db, system, facts = indexed
    svc = RiskService(db.sessions, None, DetectorParams())
    out = svc.participant(system.debtor)
    assert out["score"] is None and out["reason"] == NO_MODEL and "grade" not in out
    r = svc.receivable(facts.slot)
    assert r is not None and r["debtor_health"]["score"] is None
    assert svc.receivable(424242) is None


def test_refresh_runs_detectors_once_per_change(indexed) -> None:  # type: ignore[no-untyped-def]
    db, _, _ = indexed
    svc = RiskService(db.sessions, None, DetectorParams())
    assert svc.refresh().detectors_ran
    again = svc.refresh()
    assert not again.detectors_ran and again.alerts_raised == 0
    assert svc.refresh(force=True).alerts_raised == 0  # the same findings raise nothing new


def test_capital_flow_metrics_of_the_scenario(indexed) -> None:  # type: ignore[no-untyped-def]
    db, system, facts = indexed
    m = RiskService(db.sessions, None, DetectorParams()).metrics()
    a = system.holders[0].lower()
    p = m.platform
    assert (p.financings, p.financed_value, p.financing_paid) == (1, 250_000, 245_000)
    rate = implied_annual_rate(250_000, 245_000, facts.maturity - facts.financed_at)
    assert p.average_annual_rate == pytest.approx(rate, rel=1e-3)
    assert p.financings_above_ceiling == 0 and p.rate_ceiling == 0.12
    [sa] = [s for s in m.suppliers if s.address == a]
    assert (sa.financed_value, sa.financing_paid) == (250_000, 245_000)
    assert sa.annual_financing_cost == pytest.approx(rate, rel=1e-3)
    assert sa.days_delivery_to_cash is None  # the harness anchors no delivery document
    assert p.days_confirmation_to_cash is not None and p.days_confirmation_to_cash < 1
    [d] = [d for d in m.debtors if d.address == system.debtor.lower()]
    assert d.settled == 1 and d.on_time_share == 0.0
    assert d.days_payable == pytest.approx(91, abs=0.1)
