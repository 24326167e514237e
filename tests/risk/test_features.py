"""Risk features folded from indexed events: the scenario's values, and incremental == rebuild."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session, sessionmaker

from scf_chain.db.models import (
    Base,
    RawEvent,
    RiskDebtor,
    RiskEdge,
    RiskHolder,
    RiskPair,
    RiskReceivable,
    RiskToken,
)
from scf_chain.indexer import Indexer, rebuild_read_models
from scf_chain.indexer.projector import EventRecord
from scf_chain.risk.features import (
    DAY,
    RiskFold,
    implied_annual_rate,
    participant_features,
    receivable_features,
)
from tests.indexer.fixtures import (  # noqa: F401  (fixtures)
    _deployed,
    _pg_database,
    _sqlite_template,
    deployed,
    store,
)
from tests.indexer.scenario import FACE, Facts, run_scenario

RISK_TABLES = (RiskToken, RiskEdge, RiskReceivable, RiskDebtor, RiskPair, RiskHolder)


def _dump(sessions: sessionmaker[Session]) -> dict[str, list[tuple[str, ...]]]:
    out = {}
    with sessions() as s:
        for model in RISK_TABLES:
            cols = [c for c in model.__table__.columns if c.name != "id"]
            out[model.__tablename__] = sorted(tuple(repr(v) for v in r)
                                              for r in s.execute(select(*cols)).all())
    return out


def _records(sessions: sessionmaker[Session]) -> list[EventRecord]:
    with sessions() as s:
        rows = s.scalars(select(RawEvent).order_by(RawEvent.block_number, RawEvent.log_index))
        return [EventRecord(r.name, r.address, r.args, r.tx_hash, r.log_index, r.block_number,
                            r.block_hash, r.block_time, r.extra) for r in rows]


def _fold(events: list[EventRecord], token: str, cuts: list[int]) -> sessionmaker[Session]:
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    sessions = sessionmaker(engine, expire_on_commit=False)
    bounds = [0, *sorted(set(cuts)), len(events)]
    for lo, hi in zip(bounds, bounds[1:], strict=False):
        with sessions() as s, s.begin():
            RiskFold(s, token).apply(events[lo:hi])
    return sessions


@pytest.fixture
def indexed(store, deployed) -> tuple[Any, Any, Facts]:  # type: ignore[no-untyped-def]  # noqa: F811
    system, dep = deployed
    facts = run_scenario(system)
    Indexer(system.chain, store.sessions, dep, confirmations=0).index_once()
    return store, system, facts


def test_features_follow_the_scenario(indexed) -> None:  # type: ignore[no-untyped-def]
    db, system, facts = indexed
    a, b, c = (h.lower() for h in system.holders)
    debtor, bank = system.debtor.lower(), system.bank.lower()
    with db.sessions() as s:
        d = participant_features(s, debtor).values
        assert d["debtor_confirmed_count"] == 2 and d["debtor_confirmed_face"] == FACE + 50_000
        assert d["debtor_outstanding_face"] == 50_000  # slot2 is unpaid
        assert d["debtor_credit_limit"] == 10**15
        assert d["debtor_settled_count"] == 1 and d["debtor_on_time_share"] == 0.0
        assert d["debtor_partial_payments"] == 1  # the first 400,000 of slot 1
        assert 1.0 <= d["debtor_max_days_late"] < 1.1  # type: ignore[operator]
        assert d["debtor_overdue_count"] == 1 and d["debtor_overdue_face"] == 50_000
        assert d["debtor_supplier_count"] == 2
        assert d["debtor_supplier_hhi"] == pytest.approx((FACE**2 + 50_000**2) / (FACE + 50_000)**2)
        assert d["debtor_top_supplier_share"] == pytest.approx(FACE / (FACE + 50_000))

        fa = participant_features(s, a).values
        assert (fa["holder_splits"], fa["holder_max_fanout"], fa["holder_max_depth"]) == (2, 2, 1)
        assert fa["holder_financings"] == 1 and fa["holder_financed_value"] == 250_000
        maturity_left = facts.maturity - facts.financed_at
        assert fa["holder_avg_rate"] == pytest.approx(
            implied_annual_rate(250_000, 245_000, maturity_left), rel=1e-3)
        assert fa["supplier_receivable_count"] == 1 and fa["supplier_confirmed_face"] == FACE
        assert fa["holder_avg_days_to_first_financing"] is not None
        assert fa["debtor_confirmed_count"] is None  # a is no debtor
        fb = participant_features(s, b).values
        assert (fb["holder_splits"], fb["holder_max_depth"]) == (2, 2)
        assert fb["holder_transfers_in"] == 1 and fb["holder_transfers_out"] == 2
        assert participant_features(s, c).values["holder_transfers_in"] == 3

        edges = {(e.kind, e.sender, e.recipient, e.value) for e in s.scalars(select(RiskEdge))}
        assert edges == {("transfer", a, b, 300_000), ("transfer", a, c, 200_000),
                         ("transfer", b, c, 100_000), ("transfer", b, c, 20_000),
                         ("financing", a, bank, 250_000)}

        r = receivable_features(s, facts.slot)
        assert r is not None
        v = r.values
        assert v["repaid_share"] == 1.0 and v["financings"] == 1 and v["financed_share"] == 0.25
        assert (v["max_depth"], v["max_fanout"]) == (2, 2)
        assert v["tenor_days"] == pytest.approx(90, abs=0.01)
        assert 1.0 <= v["days_late"] < 1.1  # type: ignore[operator]
        assert receivable_features(s, facts.slot3_rejected).values["days_late"] is None  # type: ignore[union-attr]
        assert receivable_features(s, 12345) is None


def test_rebuild_after_reorg_gives_the_same_features(indexed) -> None:  # type: ignore[no-untyped-def]
    db, system, _ = indexed
    before = _dump(db.sessions)
    with db.sessions() as s, s.begin():
        rebuild_read_models(s, system.token.address, [system.erc20.address])
    assert _dump(db.sessions) == before


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_incremental_fold_equals_one_fold(indexed, data) -> None:  # type: ignore[no-untyped-def]
    """Folding any prefix of the history in any chunks gives the rows of one fold of it (and
    the indexer's own incremental fold of the whole history)."""
    db, system, _ = indexed
    events = _records(db.sessions)
    token = system.token.address
    whole = _dump(_fold(events, token, []))
    assert whole == _dump(db.sessions)
    n = data.draw(st.integers(2, len(events)), label="prefix")
    cuts = data.draw(st.lists(st.integers(1, n - 1), max_size=8), label="cuts")
    assert _dump(_fold(events[:n], token, cuts)) == _dump(_fold(events[:n], token, []))


def test_days_are_seconds_over_a_day() -> None:
    assert DAY == 86_400
    assert implied_annual_rate(100, 0, DAY) is None and implied_annual_rate(100, 99, 0) is None
    assert implied_annual_rate(101, 100, 365 * DAY) == pytest.approx(0.01)
