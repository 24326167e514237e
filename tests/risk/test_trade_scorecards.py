"""Scorecards on trade: labels from the next period's outcomes, a bundle of a debtor and a supplier
card, and the bundle shipped in the package (what the gateway scores with by default)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from scf_chain.config import Settings
from scf_chain.errors import RiskModelError
from scf_chain.risk.features import DEBTOR_FEATURES, SUPPLIER_FEATURES
from scf_chain.risk.model import ModelBundle, default_model_path, load_scorecards, save_model
from scf_chain.risk.scoring import Scorer
from scf_chain.risk.service import model_file_of
from scf_chain.risk.simulate import Outcome
from scf_chain.risk.trade import (
    TARGET,
    debtor_labels,
    fit_trade_scorecards,
    frame,
    supplier_labels,
)
from tests.risk.synthetic import FAST


def _o(round_: int, debtor: str, supplier: str, repaid: str, days: int = 0,
       pattern: str | None = None) -> Outcome:
    return Outcome(round_, 0, debtor, supplier, pattern, repaid, days)


def test_labels_come_from_the_outcome_period_only() -> None:
    outcomes = [
        _o(0, "d1", "s1", "default"),  # the observed period: not a label
        _o(1, "d1", "s1", "on_time"),
        _o(1, "d2", "s1", "late", 31),  # more than 30 days late: bad
        _o(1, "d3", "s2", "late", 30),  # 30 days: not bad
        _o(1, "d3", "s3", "on_time", pattern="split_storm"),
        _o(1, "d4", "s2", "default"),
    ]
    assert debtor_labels(outcomes, 1) == {"d1": 0, "d2": 1, "d3": 0, "d4": 1}
    assert supplier_labels(outcomes, 1) == {"s1": 0, "s2": 0, "s3": 1}


def test_frame_keeps_every_labelled_participant_with_missing_features() -> None:
    features = {"d1": {"debtor_on_time_share": 0.5, "supplier_orders": 3}}
    f = frame(features, {"d1": 1, "d2": 0}, ["debtor_on_time_share"])
    assert list(f.columns) == ["debtor_on_time_share", TARGET]
    assert f[TARGET].tolist() == [1, 0]
    assert f["debtor_on_time_share"].iloc[0] == 0.5 and np.isnan(f["debtor_on_time_share"].iloc[1])


def _synthetic(n: int, seed: int, columns: tuple[str, ...]) -> tuple[dict[str, dict], dict[str, int]]:
    """Participants whose first feature drives their outcome, the others noise."""
    rng = np.random.default_rng(seed)
    features, labels = {}, {}
    for i in range(n):
        risk = rng.uniform(0, 1)
        features[f"p{i}"] = {c: (float(risk * 40) if j == 0 else float(rng.uniform(0, 5)))
                             for j, c in enumerate(columns[:3])}
        labels[f"p{i}"] = int(rng.uniform(0, 1) < 0.02 + 0.9 * risk)
    return features, labels


def test_a_bundle_scores_debtors_and_suppliers_with_its_own_card(tmp_path: Path) -> None:
    df, dl = _synthetic(400, 1, ("debtor_avg_days_late", "debtor_overdue_count",
                                 "debtor_supplier_hhi"))
    sf, sl = _synthetic(300, 2, ("supplier_evidence_failure_share", "holder_max_rate",
                                 "holder_max_fanout"))
    bundle = fit_trade_scorecards(frame(df, dl, DEBTOR_FEATURES),
                                  frame(sf, sl, SUPPLIER_FEATURES), FAST, version="t",
                                  training={"seed": 1},
                                  now=datetime(2026, 11, 25, tzinfo=UTC))
    assert set(bundle.scorecards) == {"debtor", "supplier"}
    debtor = bundle.scorecards["debtor"]
    assert debtor.model_version == "t-debtor" and debtor.training_data.rows == 400
    assert "debtor_avg_days_late" in {f.name for f in debtor.features}
    assert debtor.metrics.auc_out_of_fold > 0.65
    path = tmp_path / "bundle.json"
    path.write_text(bundle.to_json(), encoding="utf-8")
    cards = load_scorecards(path)
    assert set(cards) == {"debtor", "supplier"}
    late = Scorer(cards["debtor"]).score({"debtor_avg_days_late": 38.0})
    prompt = Scorer(cards["debtor"]).score({"debtor_avg_days_late": 1.0})
    assert late.pd > prompt.pd and late.reasons[0].code == "debtor_avg_days_late"
    # a single scorecard file still loads, under `any`
    save_model(debtor, tmp_path / "one.json")
    assert set(load_scorecards(tmp_path / "one.json")) == {"any"}
    (tmp_path / "bad.json").write_text('{"format": "scf-risk-models/1"}', encoding="utf-8")
    with pytest.raises(RiskModelError):
        load_scorecards(tmp_path / "bad.json")


def test_the_shipped_bundle_is_used_by_default_and_describes_its_training() -> None:
    assert model_file_of(Settings()) == default_model_path()
    assert model_file_of(Settings(risk_default_model=False)) is None
    assert model_file_of(Settings(risk_model_file=Path("/x.json"))) == Path("/x.json")
    bundle = ModelBundle.model_validate_json(default_model_path().read_text(encoding="utf-8"))
    assert set(bundle.scorecards) == {"debtor", "supplier"}
    assert bundle.training["source"] == "scf_chain.risk.simulate"
    assert str(bundle.training["regenerate"]).startswith("python scripts/train_risk_model.py")
    for kind, card in bundle.scorecards.items():
        assert len(card.training_data.sha256) == 64 and card.training_data.rows >= 40
        assert set(card.inputs) <= set(DEBTOR_FEATURES if kind == "debtor"
                                       else SUPPLIER_FEATURES)
        # better than chance out of fold on its own market (the report has the figures)
        assert card.metrics.auc_out_of_fold > 0.5
        for f in card.features:  # plain words for every reason code, in both languages
            assert f.label_en != f.name and f.label_zh != f.name


def test_training_on_a_market_needs_a_throw_away_chain(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from scf_chain.cli import app

    monkeypatch.setenv("SCF_CHAIN_BACKEND", "rpc")
    out = tmp_path / "cards.json"
    result = CliRunner().invoke(app, ["risk", "train", "--simulate", "--out", str(out)])
    assert result.exit_code == 1 and "throw-away chain" in result.output
    assert not out.exists()
