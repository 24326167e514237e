"""The market simulator: every injected pattern is caught by its detector, a clean market raises
none of them, and a seed gives the same market."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from scf_chain.chain.embedded import EmbeddedChain
from scf_chain.config import Settings
from scf_chain.platform.core import Platform
from scf_chain.risk.simulate import PATTERNS, SimConfig, _plan, evaluate, simulate


@pytest.fixture
def platform(embedded_chain: EmbeddedChain) -> Iterator[Platform]:
    p = Platform.open(Settings(), chain=embedded_chain)
    try:
        yield p
    finally:
        p.close()


def test_every_injected_pattern_is_detected(platform: Platform, tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "labels.json"
    r = simulate(platform, SimConfig(receivables=24, fraud_share=0.25, seed=5), out)
    assert out.exists() and r.receivables == 24
    assert all(r.labels[p] for p in PATTERNS)
    scores = evaluate(platform, r.labels)
    for pattern in PATTERNS:
        assert scores[pattern]["recall"] == 1.0, (pattern, scores[pattern])
        assert scores[pattern]["precision"] == 1.0, (pattern, scores[pattern])


def test_clean_market_raises_no_fraud_alert(platform: Platform) -> None:
    r = simulate(platform, SimConfig(receivables=12, fraud_share=0.0, seed=6))
    assert r.fraud_receivables == 0
    scores = evaluate(platform, r.labels)
    assert {p: s["alerted"] for p, s in scores.items()} == {p: 0 for p in PATTERNS}


def test_plan_is_reproducible_for_a_seed() -> None:
    import random

    def plan(seed: int) -> list[tuple[str, str, int, str | None, str]]:
        trades, _ = _plan(SimConfig(receivables=50, seed=seed), random.Random(seed))
        return [(t.supplier, t.debtor, t.face, t.pattern, t.variant) for t in trades]

    assert plan(9) == plan(9)
    assert plan(9) != plan(10)
