"""`scf risk train | score | evaluate` on a CSV, and their errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scf_chain.cli import app
from scf_chain.risk.model import ScorecardModel, load_model, save_model
from tests.risk.synthetic import synthetic_frame

runner = CliRunner()


@pytest.fixture(scope="module")
def csv_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("risk") / "participants.csv"
    frame = synthetic_frame(n=600, seed=11)
    frame.insert(0, "participant", [f"supplier-{i}" for i in range(len(frame))])
    frame.to_csv(path, index=False)
    return path


def test_train_then_score_a_csv(csv_path: Path, tmp_path: Path) -> None:
    model_path = tmp_path / "model.json"
    result = runner.invoke(app, ["risk", "train", "--data", str(csv_path), "--target", "status",
                                 "--bad-value", "default", "--exclude", "participant",
                                 "--version", "cli-1", "--out", str(model_path)])
    assert result.exit_code == 0, result.output
    assert "model cli-1" in result.output and "out of fold: AUC" in result.output
    model = load_model(model_path)
    assert model.model_version == "cli-1" and "participant" not in model.inputs

    result = runner.invoke(app, ["risk", "score", "--model", str(model_path), "--data",
                                 str(csv_path), "--id-column", "participant", "--reasons", "2"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("supplier-0: score ") and ", grade " in lines[0] and "PD" in lines[0]
    assert sum(1 for line in lines if line.startswith("supplier-")) == 600
    assert all(line.startswith("  - ") for line in lines if not line.startswith("supplier-"))

    result = runner.invoke(app, ["risk", "score", "--model", str(model_path), "--data",
                                 str(csv_path), "--id-column", "participant", "--json"])
    assert result.exit_code == 0, result.output
    first = json.loads(result.output.splitlines()[0])
    assert first["id"] == "supplier-0" and first["model_version"] == "cli-1"
    assert first["score"] == model.base_points + sum(first["points"].values())

    zh = runner.invoke(app, ["risk", "score", "--model", str(model_path), "--data",
                             str(csv_path), "--id-column", "participant", "--lang", "zh"])
    assert zh.exit_code == 0 and "分" in zh.output


def test_training_errors_exit_with_a_message(csv_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "m.json"
    result = runner.invoke(app, ["risk", "train", "--data", str(csv_path), "--target",
                                 "defaulted", "--out", str(out)])
    assert result.exit_code == 1 and "no target column 'defaulted'" in result.output
    result = runner.invoke(app, ["risk", "train", "--data", str(csv_path), "--target",
                                 "on_time_share", "--out", str(out)])
    assert result.exit_code == 1 and "exactly two values" in result.output
    result = runner.invoke(app, ["risk", "train", "--data", str(tmp_path / "absent.csv"),
                                 "--target", "status", "--out", str(out)])
    assert result.exit_code == 1 and "cannot read CSV" in result.output
    assert not out.exists()


def test_scoring_errors_exit_with_a_message(synthetic_model: ScorecardModel,
                                            tmp_path: Path) -> None:
    model_path = tmp_path / "model.json"
    save_model(synthetic_model, model_path)
    extra = tmp_path / "extra.csv"
    extra.write_text("days_late,sector,payment_terms\n3,food,60\n", encoding="utf-8")
    result = runner.invoke(app, ["risk", "score", "--model", str(model_path), "--data", str(extra)])
    assert result.exit_code == 1 and "row 1: unknown feature(s) ['payment_terms']" in result.output
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("days_late,sector\nlots,food\n", encoding="utf-8")
    result = runner.invoke(app, ["risk", "score", "--model", str(model_path), "--data", str(wrong)])
    assert result.exit_code == 1 and "numeric" in result.output
    broken = tmp_path / "broken.json"
    broken.write_text("{}", encoding="utf-8")
    result = runner.invoke(app, ["risk", "score", "--model", str(broken), "--data", str(wrong)])
    assert result.exit_code == 1 and "not a valid scorecard model" in result.output


def test_evaluate_a_csv(csv_path: Path) -> None:
    result = runner.invoke(app, ["risk", "evaluate", "--data", str(csv_path), "--target",
                                 "status", "--bad-value", "default", "--exclude", "participant",
                                 "--folds", "2", "--repeats", "1"])
    assert result.exit_code == 0, result.output
    assert "1 × 2-fold" in result.output
    for metric in ("AUC", "KS", "GINI", "BRIER"):
        assert metric in result.output
