"""Detectors fire on their injected pattern and not on a clean control; alerts raise once and
keep their lifecycle and history."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from scf_chain.db.models import RiskAlert, RiskAlertEvent, RiskReceivable
from scf_chain.indexer import Indexer
from scf_chain.risk.alerts import (
    AlertNotFound,
    AlertTransitionError,
    list_alerts,
    raise_findings,
    transition,
)
from scf_chain.risk.detectors import DetectorParams, Finding, _tightest, run_detectors
from scf_chain.risk.features import as_of
from tests.indexer.fixtures import (  # noqa: F401  (fixtures)
    _deployed,
    _pg_database,
    _sqlite_template,
    deployed,
    store,
)

DAY = 86_400
P = DetectorParams(storm_min_parts=5, storm_max_part_value=10_000)


@pytest.fixture
def env(store, deployed) -> Any:  # type: ignore[no-untyped-def]  # noqa: F811
    system, dep = deployed

    def detect(only: str, params: DetectorParams = P) -> list[Finding]:
        Indexer(system.chain, store.sessions, dep, confirmations=0).index_once()
        with store.sessions() as s:
            return run_detectors(s, params, as_of(s), [only])

    return system, store, detect


def test_circular_trade_fires_on_a_loop_and_not_on_a_chain(env) -> None:  # type: ignore[no-untyped-def]
    system, _, detect = env
    a, b, c = system.holders
    now = system.chain.now()
    slot = system.apply_and_confirm(a, 1_000_000, now + 90 * DAY, "INV-loop")
    root = system.first_token_of(slot)
    system.apply_and_confirm(c, 1_000_000, now + 90 * DAY, "INV-loop-c")  # c: a creditor too
    t_b = system.split(a, root, b, 300_000)
    t_c = system.split(b, t_b, c, 200_000)
    # a -> b -> c is a supply chain, not a loop (c is the creditor of another receivable only)
    assert detect("circular_trade") == []
    assert detect("circular_trade", DetectorParams(cycle_max_length=2)) == []
    system.split(c, t_c, a, 100_000)
    [f] = detect("circular_trade")
    assert f.parties[0] == min(f.parties)  # rotated to start at the smallest address
    assert set(f.parties) == {a.lower(), b.lower(), c.lower()} and f.slot == slot
    assert not f.details["self_financing"]
    # outside the window, or longer than the cycle search goes, the loop of participants is
    # not reported; the receivable's value came back to its creditor all the same
    for params in (DetectorParams(cycle_window_days=0.000001),
                   DetectorParams(cycle_max_length=2)):
        [g] = detect("circular_trade", params)
        assert g.key == f"returned|{slot}" and g.details["rule"] == "returned_to_creditor"
        assert g.parties == (a.lower(), b.lower(), c.lower()) and g.slot == slot


def test_self_financing_through_a_loop_is_flagged(env) -> None:  # type: ignore[no-untyped-def]
    system, _, detect = env
    a = system.holders[0]
    now = system.chain.now()
    slot = system.apply_and_confirm(a, 1_000_000, now + 90 * DAY, "INV-self")
    root = system.first_token_of(slot)
    oid, escrow = system.offer(a, root, 400_000, 396_000, now + 30 * DAY)
    system.accept(oid)
    assert detect("circular_trade") == []
    system.split(system.bank, escrow, a, 100_000)  # the financier passes value back
    [f] = detect("circular_trade")
    assert f.details["self_financing"] and set(f.parties) == {a.lower(), system.bank.lower()}


def test_split_storm_fires_before_financing_and_not_on_few_splits(env) -> None:  # type: ignore[no-untyped-def]
    system, _, detect = env
    a, b, _ = system.holders
    now = system.chain.now()
    calm = system.apply_and_confirm(b, 1_000_000, now + 90 * DAY, "INV-calm")
    root_b = system.first_token_of(calm)
    for _ in range(3):
        system.split(b, root_b, b, 5_000)
    oid, _ = system.offer(b, root_b, 100_000, 99_500, now + 30 * DAY)
    system.accept(oid)
    assert detect("split_storm") == []
    stormy = system.apply_and_confirm(a, 1_000_000, now + 90 * DAY, "INV-storm")
    root_a = system.first_token_of(stormy)
    for _ in range(5):
        system.split(a, root_a, a, 5_000)
    assert detect("split_storm") == []  # no financing yet
    oid, _ = system.offer(a, root_a, 100_000, 99_500, now + 30 * DAY)
    system.accept(oid)
    [f] = detect("split_storm")
    assert f.slot == stormy and f.details["parts"] == 5 and f.parties == (a.lower(),)
    # parts over the amount still count while small next to the face value (5,000 < 5 % of
    # 1,000,000), and do not when the share is set below them
    over = P.model_copy(update={"storm_max_part_value": 1_000})
    assert [g.slot for g in detect("split_storm", over)] == [stormy]
    assert detect("split_storm", over.model_copy(update={"storm_max_part_share": 0.001})) == []


def test_above_market_rate_on_open_and_accepted_offers(env) -> None:  # type: ignore[no-untyped-def]
    system, db, detect = env
    a = system.holders[0]
    now = system.chain.now()
    slot = system.apply_and_confirm(a, 1_000_000, now + 90 * DAY, "INV-rate")
    root = system.first_token_of(slot)
    fair, _ = system.offer(a, root, 100_000, 99_000, now + 30 * DAY)  # ~4 % a year
    system.accept(fair)
    assert detect("above_market_rate") == []
    dear, _ = system.offer(a, root, 100_000, 90_000, now + 30 * DAY)  # ~45 % a year
    [f] = detect("above_market_rate")
    assert f.details["offer"] == "open" and f.details["annual_rate"] > 0.4
    with db.sessions() as s, s.begin():
        assert len(raise_findings(s, [f], as_of(s))) == 1
    system.accept(dear)
    [g] = detect("above_market_rate")
    assert g.details["offer"] == "accepted" and g.key == f.key
    with db.sessions() as s, s.begin():
        assert raise_findings(s, [g], as_of(s)) == []  # the same finding does not raise twice


def test_concentration_on_a_weak_debtor_only(env) -> None:  # type: ignore[no-untyped-def]
    system, _, detect = env
    b = system.holders[1]
    now = system.chain.now()
    for i in range(2):
        system.apply_and_confirm(b, 500_000, now + 30 * DAY, f"INV-conc-{i}")
    assert detect("concentration") == []  # all on one debtor, but a healthy one so far
    system.chain.time_travel(35 * DAY)
    system.apply_and_confirm(b, 1, now + 90 * DAY, "INV-tick")  # a block after maturity
    [f] = detect("concentration")
    assert f.parties == (b.lower(), system.debtor.lower())
    assert any("overdue" in w for w in f.details["weakness"])


def test_fictitious_trade_reads_the_evidence_columns(env) -> None:  # type: ignore[no-untyped-def]
    system, db, detect = env
    a = system.holders[0]
    now = system.chain.now()
    good = system.apply_and_confirm(a, 1_000, now + 30 * DAY, "INV-good")
    bad = system.apply_and_confirm(a, 1_000, now + 30 * DAY, "INV-bad")
    detect("fictitious_trade")
    with db.sessions() as s, s.begin():
        for slot, code in ((good, "ok"), (bad, "delivered_after_invoice")):
            r = s.get(RiskReceivable, slot)
            assert r is not None
            r.evidence_checked, r.consistency = True, code
    [f] = detect("fictitious_trade")
    assert f.slot == bad and f.details["code"] == "delivered_after_invoice"


def test_alert_lifecycle_and_history(store) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    fs = [Finding("split_storm", f"offer|{i}", "medium", f"storm {i}", ("0x" + "a" * 40,), i)
          for i in range(3)]
    with store.sessions() as s, s.begin():
        ids = raise_findings(s, fs, 100)
        assert len(ids) == 3 and raise_findings(s, fs, 101) == []
    first, second, third = ids
    with store.sessions() as s, s.begin():
        transition(s, first, "acknowledge", "aud-1", "looking", 200)
        transition(s, first, "confirm", "aud-1", "the parts went to one buyer", 300)
        transition(s, second, "dismiss", "operator", "known wholesaler", 250)
        for alert, action in ((first, "dismiss"), (second, "acknowledge"), (second, "confirm")):
            with pytest.raises(AlertTransitionError):
                transition(s, alert, action, "aud-1", "again", 400)  # type: ignore[arg-type]
        with pytest.raises(AlertNotFound):
            transition(s, 10_000, "confirm", "aud-1", "x", 400)
    with store.sessions() as s:
        views, total = list_alerts(s)
        assert total == 3 and [v.id for v in views] == sorted(ids, reverse=True)
        by_id = {v.id: v for v in views}
        assert [(h["from"], h["to"], h["by"]) for h in by_id[first].history] == [
            (None, "open", "detector:split_storm"), ("open", "acknowledged", "aud-1"),
            ("acknowledged", "confirmed", "aud-1")]
        assert by_id[first].updated_by == "aud-1" and by_id[first].updated_at == 300
        assert by_id[second].status == "dismissed" and by_id[second].reason == "known wholesaler"
        assert by_id[third].status == "open"
        assert list_alerts(s, status="open")[1] == 1
        assert list_alerts(s, slot=1)[0][0].id == second
        assert list_alerts(s, participant="0x" + "A" * 40)[1] == 3
        assert list_alerts(s, visible_to=["0x" + "b" * 40])[1] == 0
        page, total = list_alerts(s, limit=2, offset=2)
        assert total == 3 and [v.id for v in page] == [first]
        assert s.scalar(select(func.count()).select_from(RiskAlert)) == 3  # never deleted
        assert s.scalar(select(func.count()).select_from(RiskAlertEvent)) == 6


@given(st.lists(st.lists(st.integers(0, 50), min_size=1, max_size=4), min_size=1, max_size=4))
def test_tightest_window_is_the_shortest_span_covering_every_hop(times: list[list[int]]) -> None:
    hops = [[(t, 1, "transfer") for t in ts] for ts in times]
    span = _tightest(hops)
    assert span is not None
    best = min(max(c) - min(c) for c in itertools.product(*times))
    assert span[1] - span[0] == best
    assert all(any(span[0] <= t <= span[1] for t in ts) for ts in times)
    assert _tightest([[(1, 1, "transfer")], []]) is None
