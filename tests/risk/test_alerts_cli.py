"""`scf risk alerts` and `scf risk resolve` on the configured store."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scf_chain import db
from scf_chain.cli import app
from scf_chain.config import get_settings
from scf_chain.risk.alerts import raise_findings
from scf_chain.risk.detectors import Finding

runner = CliRunner()
WHO = "0x" + "c" * 40


@pytest.fixture
def store_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = f"sqlite:///{tmp_path}/risk.db"
    monkeypatch.setenv("SCF_DATABASE_URL", url)
    monkeypatch.setenv("SCF_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("SCF_DOCUMENT_STORE_PATH", str(tmp_path / "documents"))
    get_settings.cache_clear()
    db.upgrade(url)
    sessions = db.session_factory(db.make_engine(url))
    with sessions() as s, s.begin():
        raise_findings(s, [Finding("above_market_rate", "offer|7", "medium", "rate 30 % above "
                                   "the ceiling", (WHO,), 5, {"offer_id": "7"}),
                           Finding("split_storm", "offer|8", "medium", "12 parts", (WHO,), 6)],
                       1_000)
    yield url
    get_settings.cache_clear()  # the next reader sees the environment without these


def test_alerts_lists_filters_and_resolves(store_url: str) -> None:
    r = runner.invoke(app, ["risk", "alerts", "--no-refresh"])
    assert r.exit_code == 0, r.output
    assert "#2 [open] split_storm slot 6: 12 parts" in r.output and "2 of 2 alerts" in r.output
    r = runner.invoke(app, ["risk", "alerts", "--refresh", "--json",
                            "--detector", "above_market_rate"])
    assert r.exit_code == 0, r.output
    [line] = [x for x in r.stdout.splitlines() if x.startswith("{")]
    row = json.loads(line)
    assert row["details"]["offer_id"] == "7" and row["parties"] == [WHO] and row["slot"] == "5"
    r = runner.invoke(app, ["risk", "resolve", "1", "confirm", "--reason", "above LPR x4",
                            "--by", "aud-cli"])
    assert r.exit_code == 0 and "alert #1 is confirmed (by aud-cli: above LPR x4)" in r.output
    r = runner.invoke(app, ["risk", "resolve", "1", "dismiss", "--reason", "x", "--by", "aud"])
    assert r.exit_code == 1 and "cannot be dismissed" in r.output
    r = runner.invoke(app, ["risk", "alerts", "--no-refresh", "--status", "confirmed"])
    assert "1 of 1 alerts" in r.output
    r = runner.invoke(app, ["risk", "alerts", "--status", "closed"])
    assert r.exit_code == 1 and "--status must be one of" in r.output
    r = runner.invoke(app, ["risk", "resolve", "99", "confirm", "--reason", "x", "--by", "a"])
    assert r.exit_code == 1 and "no alert 99" in r.output
