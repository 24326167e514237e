"""The scorecard's arithmetic: additive points, PD ordering, reason codes, the model file."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scf_chain.errors import RiskDataError, RiskModelError, ScfError
from scf_chain.risk.data import TrainingSet
from scf_chain.risk.model import Feature, ScorecardModel, load_model, save_model
from scf_chain.risk.scoring import Scorer

ROOT = Path(__file__).resolve().parents[2]


def reference_points(feature: Feature, value: object) -> int:
    """The attribute's points by a plain scan of the bin table (independent of the scorer)."""
    if value is None or value == "" or (isinstance(value, float) and math.isnan(value)):
        return feature.missing.points
    if feature.kind == "numeric":
        x = float(value)  # type: ignore[arg-type]
        for b in feature.bins:
            if (b.lower is None or b.lower <= x) and (b.upper is None or x < b.upper):
                return b.points
        raise AssertionError(f"no bin holds {x}")
    for b in feature.bins:
        if value in (b.categories or []):
            return b.points
    assert feature.unseen is not None
    return feature.unseen.points


def value_strategy(feature: Feature) -> st.SearchStrategy[object]:
    missing = st.sampled_from([None, "", float("nan")])
    if feature.kind == "numeric":
        edges = [x for b in feature.bins for x in (b.lower, b.upper) if x is not None]
        return st.one_of(missing, st.sampled_from(edges),
                         st.floats(allow_nan=False, allow_infinity=True),
                         st.integers(-10**6, 10**6),
                         st.floats(-1e6, 1e6).map(repr))  # numbers as CSV text
    cats = [c for b in feature.bins for c in (b.categories or [])]
    return st.one_of(missing, st.sampled_from(cats), st.text(max_size=8))


def rows_of(model: ScorecardModel) -> st.SearchStrategy[dict[str, object]]:
    return st.fixed_dictionaries({}, optional={f.name: value_strategy(f) for f in model.features})


@pytest.fixture(scope="module")
def scorer(synthetic_model: ScorecardModel) -> Scorer:
    return Scorer(synthetic_model, reasons=3)


@given(data=st.data())
def test_total_is_base_plus_attribute_points(synthetic_model: ScorecardModel, scorer: Scorer,
                                              data: st.DataObject) -> None:
    row = data.draw(rows_of(synthetic_model))
    s = scorer.score(row)
    assert s.score == synthetic_model.base_points + sum(s.points.values())
    for f in synthetic_model.features:
        assert s.points[f.name] == reference_points(f, row.get(f.name))
    assert scorer.total(row) == s.score


@given(data=st.data())
def test_reasons_are_the_largest_point_losses(synthetic_model: ScorecardModel, scorer: Scorer,
                                               data: st.DataObject) -> None:
    row = data.draw(rows_of(synthetic_model))
    s = scorer.score(row)
    losses = [(f.best_points - s.points[f.name], i, f.name)
              for i, f in enumerate(synthetic_model.features)]
    expected = [name for loss, _, name in sorted(losses, key=lambda t: (-t[0], t[1])) if loss > 0]
    assert [r.code for r in s.reasons] == expected[:3]
    for r in s.reasons:
        assert r.points == s.points[r.code]
        assert r.points_lost == next(f.best_points for f in synthetic_model.features
                                     if f.name == r.code) - r.points > 0
        assert str(r.points_lost) in r.text_en and str(r.points_lost) in r.text_zh
        assert r.label_en in r.text_en and r.label_zh in r.text_zh


@given(st.integers(0, 1200), st.integers(1, 400))
def test_more_points_mean_a_lower_pd_and_no_better_grade(german_model: ScorecardModel,
                                                          low: int, gap: int) -> None:
    cal = german_model.calibration
    high = low + gap
    assert cal.b < 0
    assert cal.pd(high) <= cal.pd(low)  # equal only where the logistic saturates in floats
    if 400 <= low and high <= 700:  # the range real scores take: strictly lower
        assert cal.pd(high) < cal.pd(low)
    grades = [g.grade for g in german_model.grades]
    assert grades.index(german_model.grade_of(cal.pd(high))) <= \
        grades.index(german_model.grade_of(cal.pd(low)))


def test_points_reproduce_the_pd_ordering_on_german_credit(german_model: ScorecardModel,
                                                           german: TrainingSet) -> None:
    scored = Scorer(german_model).score_many(german.features.to_dict("records"))
    by_points = sorted(scored, key=lambda s: s.score)
    pds = [s.pd for s in by_points]
    assert all(a >= b for a, b in zip(pds, pds[1:], strict=False))
    assert len({s.grade for s in scored}) >= 4  # the grades split the book


@pytest.mark.parametrize("name", ["synthetic", "german"])
def test_bins_hold_the_training_counts(name: str, request: pytest.FixtureRequest) -> None:
    """Our lookup ([lower, upper) intervals, category sets, missing) puts each training row in
    the bin optbinning counted it in; no training category is left to the unseen bin."""
    model: ScorecardModel = request.getfixturevalue(f"{name}_model")
    data: TrainingSet = request.getfixturevalue(name)
    scorer = Scorer(model)
    rows = data.features.to_dict("records")
    for f in model.features:
        table = next(c for c in scorer.table.features if c.name == f.name)
        counts: dict[int, list[int]] = {}
        for row, bad in zip(rows, data.bad, strict=True):
            c = counts.setdefault(table.attribute(row[f.name]), [0, 0])
            c[0] += 1
            c[1] += int(bad)
        for i, b in enumerate(f.bins):
            assert counts.get(i, [0, 0]) == [b.count, b.bad], (f.name, i)
        assert counts.get(-1, [0, 0]) == [f.missing.count, f.missing.bad]
        assert -2 not in counts


def test_points_follow_weight_of_evidence(german_model: ScorecardModel) -> None:
    factor = german_model.scaling.factor
    for f in german_model.features:
        assert f.coefficient < 0
        for b in f.bins:
            assert b.points == round(-factor * f.coefficient * b.woe)
        ordered = sorted(f.bins, key=lambda b: b.woe)
        assert [b.points for b in ordered] == sorted(b.points for b in ordered)
    assert german_model.base_points == round(
        german_model.scaling.offset - factor * german_model.intercept)


def test_missing_and_unseen_values_score_their_own_attributes(
        synthetic_model: ScorecardModel) -> None:
    sector = next(f for f in synthetic_model.features if f.name == "sector")
    assert sector.missing.count > 0  # the training data had gaps: they got their own WoE
    days_late = next(f for f in synthetic_model.features if f.name == "days_late")
    s = Scorer(synthetic_model, reasons=10).score({"sector": "shipbuilding"})
    assert s.points["sector"] == 0  # an unseen category is neutral (WoE 0)
    assert s.points["days_late"] == days_late.missing.points  # an absent feature is missing
    for value in (None, "", float("nan")):
        assert Scorer(synthetic_model).score({"days_late": value}).points["days_late"] == \
            days_late.missing.points
    assert sector.best_points > 0
    worded = next(r for r in s.reasons if r.code == "sector")
    assert "'shipbuilding'" in worded.text_en and "“shipbuilding”" in worded.text_zh


def test_model_file_round_trips_byte_identically(german_model: ScorecardModel,
                                                 german: TrainingSet, tmp_path: Path) -> None:
    first = tmp_path / "a.json"
    save_model(german_model, first)
    loaded = load_model(first)
    second = tmp_path / "b.json"
    save_model(loaded, second)
    assert first.read_bytes() == second.read_bytes()
    assert loaded == german_model
    rows = german.features.to_dict("records")
    assert Scorer(loaded).score_many(rows) == Scorer(german_model).score_many(rows)
    doc = json.loads(first.read_text(encoding="utf-8"))
    assert doc["format"] == "scf-risk-scorecard/1"
    assert doc["training_data"]["sha256"] == german.sha256 and len(german.sha256) == 64
    assert doc["created_at"] == "2026-11-25T12:00:00Z"
    assert "贷款期限（月）" in first.read_text(encoding="utf-8")  # labels stay readable


def test_scoring_never_trains(german_model: ScorecardModel, german: TrainingSet,
                              tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from optbinning import BinningProcess, OptimalBinning
    from sklearn.linear_model import LogisticRegression

    path = tmp_path / "m.json"
    save_model(german_model, path)

    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("scoring tried to fit a model")

    for cls in (LogisticRegression, BinningProcess, OptimalBinning):
        monkeypatch.setattr(cls, "fit", refuse)
    scored = Scorer(load_model(path)).score_many(german.features.to_dict("records"))
    assert len(scored) == 1000


def test_scoring_loads_no_training_library(german_model: ScorecardModel, tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    save_model(german_model, path)
    code = (
        "import sys\n"
        "from scf_chain.risk.model import load_model\n"
        "from scf_chain.risk.scoring import Scorer\n"
        f"s = Scorer(load_model({str(path)!r})).score({{'duration_in_month': 30}})\n"
        "heavy = sorted(m for m in ('sklearn', 'optbinning', 'pandas', 'numpy') if m in sys.modules)\n"
        "print(s.grade, heavy)\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         timeout=120, check=True).stdout
    assert out.strip().endswith("[]"), out


def test_unknown_feature_and_bad_values_are_refused(synthetic_model: ScorecardModel) -> None:
    scorer = Scorer(synthetic_model)
    with pytest.raises(RiskDataError, match="unknown feature.*'payment_terms'"):
        scorer.score({"days_late": 3, "payment_terms": 60})
    with pytest.raises(RiskDataError, match="days_late.*numeric"):
        scorer.score({"days_late": "three"})
    with pytest.raises(RiskDataError):
        scorer.score({"days_late": True})
    with pytest.raises(ScfError):
        scorer.total({"nope": 1})


def test_a_malformed_model_file_is_refused(german_model: ScorecardModel, tmp_path: Path) -> None:
    doc = json.loads(german_model.to_json())
    bad = tmp_path / "bad.json"
    for mutate in (
        lambda d: d.update(format="scf-risk-scorecard/0"),
        lambda d: d["calibration"].update(b=0.01),  # PD would rise with the score
        # a numeric feature's bins no longer reach +infinity
        lambda d: next(f for f in d["features"] if f["kind"] == "numeric")["bins"].pop(),
        # a category in two bins
        lambda d: next(f for f in d["features"] if f["kind"] == "categorical")["bins"][1][
            "categories"].append(next(f for f in d["features"] if f["kind"] == "categorical")[
                "bins"][0]["categories"][0]),
        lambda d: d["features"].append(d["features"][0]),  # a feature twice
        lambda d: d.pop("training_data"),
        lambda d: d.update(grades=[{"grade": "A", "max_pd": 0.5}]),
    ):
        changed = json.loads(json.dumps(doc))
        mutate(changed)
        bad.write_text(json.dumps(changed), encoding="utf-8")
        with pytest.raises(RiskModelError):
            load_model(bad)
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(RiskModelError):
        load_model(bad)
    with pytest.raises(RiskModelError, match="cannot read"):
        load_model(tmp_path / "absent.json")


def test_model_records_its_training(german_model: ScorecardModel, german: TrainingSet) -> None:
    m = german_model
    assert (m.training_data.rows, m.training_data.bad) == (1000, 300)
    assert m.training_data.target == "creditability" and m.training_data.bad_value == "bad"
    assert set(m.inputs) == set(german.features.columns)
    used = {f.name for f in m.features}
    assert used | {d.name for d in m.dropped} == set(m.inputs)
    assert 0.75 < m.metrics.auc_out_of_fold < m.metrics.auc_in_sample
    assert 0 < m.metrics.brier_out_of_fold < 0.21  # 0.21 = always predicting the 30 % base rate
    assert m.settings["pdo"] == 20.0 and m.scaling.base_odds == 50.0
    assert np.isclose(m.scaling.offset + m.scaling.factor * math.log(50.0), 600.0)
