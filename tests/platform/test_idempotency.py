"""The Idempotency-Key store: one run per key, replays, orphans taken over at once, journaled
requests never released, and expiry."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import select, update

from scf_chain import db
from scf_chain.chain.sender import SignedTx
from scf_chain.config import Settings
from scf_chain.db.models import IdempotencyRecord, TxJournalEntry
from scf_chain.errors import IdempotencyConflict
from scf_chain.platform.idempotency import (
    Claim,
    IdempotencyStore,
    StoredResponse,
)

TX = SignedTx("0x" + "11" * 20, 7, "0x" + "ab" * 32, b"\x02signed", "0x" + "cd" * 32)


@pytest.fixture()
def url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path}/idem.db"
    db.upgrade(url)
    return url


@pytest.fixture()
def store(url: str) -> IdempotencyStore:
    return IdempotencyStore(db.session_factory(db.make_engine(url)), ttl_s=3600)


def _claim(store: IdempotencyStore, key: str, fingerprint: str = "h",
           who: str = "alice") -> Claim:
    got = store.begin(who, key, fingerprint)
    assert isinstance(got, Claim), got
    return got


def _conflict(store: IdempotencyStore, key: str, fingerprint: str = "h") -> str:
    with pytest.raises(IdempotencyConflict) as err:
        store.begin("alice", key, fingerprint)
    return err.value.code


def _state(store: IdempotencyStore, key: str) -> str | None:
    with store.sessions() as s:
        rec = s.get(IdempotencyRecord, ("alice", key))
        return None if rec is None else rec.state


def test_one_run_per_key_then_replays(store: IdempotencyStore) -> None:
    claim = _claim(store, "k1")
    assert not claim.resumed
    assert _conflict(store, "k1") == "idempotency_key_in_use"  # still running
    store.finish(claim, 201, {"token_id": "7"})
    store.end(claim)
    replay = store.begin("alice", "k1", "h")
    assert replay == StoredResponse(201, {"token_id": "7"})
    assert _conflict(store, "k1", "other body") == "idempotency_key_reused"
    assert not _claim(store, "k1", who="bob").resumed  # keys are per participant


def test_concurrent_requests_with_one_key_run_once(store: IdempotencyStore) -> None:
    results: list[object] = []
    start = threading.Barrier(6)

    def attempt() -> None:
        start.wait()
        try:
            results.append(store.begin("alice", "race", "h"))
        except IdempotencyConflict as exc:
            results.append(exc.code)

    threads = [threading.Thread(target=attempt) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    claims = [r for r in results if isinstance(r, Claim)]
    assert len(claims) == 1 and results.count("idempotency_key_in_use") == 5


def test_a_request_that_ended_without_an_answer_is_taken_over_by_its_retry_at_once(
        store: IdempotencyStore) -> None:
    """No stale time: a run that is over (it ended with outcome_pending, or its process died)
    is resumed by the next retry, which resolves it; a second retry meanwhile is told it runs."""
    claim = _claim(store, "k2")
    store.record_tx(claim, 0, TX)
    store.interrupt(claim)
    store.end(claim)
    assert _state(store, "k2") == "interrupted"
    retry = _claim(store, "k2")
    assert retry.resumed and retry.token != claim.token
    assert _conflict(store, "k2") == "idempotency_key_in_use"
    assert [t.tx_hash for t in store.journal("alice", "k2")] == [TX.tx_hash]
    store.finish(retry, 200, {"ok": True})
    assert store.begin("alice", "k2", "h") == StoredResponse(200, {"ok": True})
    # the answer is kept; the signed bytes are not needed any more
    assert store.journal("alice", "k2")[0].raw is None


def test_an_orphan_is_taken_over_by_one_retry(store: IdempotencyStore) -> None:
    claim = _claim(store, "orphan")
    store.end(claim)  # its process died: the record stays pending
    results: list[object] = []
    start = threading.Barrier(5)

    def attempt() -> None:
        start.wait()
        try:
            results.append(store.begin("alice", "orphan", "h"))
        except IdempotencyConflict as exc:
            results.append(exc.code)

    threads = [threading.Thread(target=attempt) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len([r for r in results if isinstance(r, Claim) and r.resumed]) == 1
    assert results.count("idempotency_key_in_use") == 4


def test_a_run_that_lost_its_record_to_a_takeover_cannot_overwrite_it(
        store: IdempotencyStore) -> None:
    first = _claim(store, "k3")
    store.end(first)
    second = _claim(store, "k3")
    store.finish(first, 200, {"from": "first"})  # too late: no longer its record
    store.release(first)
    assert _state(store, "k3") == "pending"
    store.finish(second, 200, {"from": "second"})
    assert store.begin("alice", "k3", "h") == StoredResponse(200, {"from": "second"})


def test_a_failure_before_any_transaction_frees_the_key(store: IdempotencyStore) -> None:
    claim = _claim(store, "k4")
    store.release(claim)
    store.end(claim)
    assert _state(store, "k4") is None
    assert not _claim(store, "k4").resumed


def test_start_frees_requests_without_transactions_and_keeps_journaled_ones(
        url: str, store: IdempotencyStore) -> None:
    """At start every unfinished record is an orphan: one that journaled nothing had no effect
    (its key is freed), one with a journaled transaction waits for its retry (with no chain to
    ask, it cannot be called impossible)."""
    _claim(store, "plain")
    journaled = _claim(store, "journaled")
    store.record_tx(journaled, 0, TX)
    # the process dies; another starts on the same store
    restarted = IdempotencyStore(db.session_factory(db.make_engine(url)))
    report = restarted.recover()
    assert (report.released, report.interrupted) == (1, 1)
    assert _state(restarted, "plain") is None and _state(restarted, "journaled") == "interrupted"
    assert not _claim(restarted, "plain").resumed


def test_answers_expire_and_are_purged_but_unresolved_journals_are_kept(
        store: IdempotencyStore) -> None:
    done = _claim(store, "done")
    store.record_tx(done, 0, TX)
    store.finish(done, 201, {"x": 1})
    store.end(done)
    unresolved = _claim(store, "unresolved")
    store.record_tx(unresolved, 0, SignedTx(TX.sender, 8, "0x" + "ef" * 32, b"raw", TX.call_hash))
    store.interrupt(unresolved)
    store.end(unresolved)
    idle = _claim(store, "idle")
    store.end(idle)  # died before sending anything
    running = _claim(store, "running")
    assert store.purge(time.time() + 60) == 0  # nothing expired yet
    assert store.purge(time.time() + 3600 + 1) == 2  # done and idle
    assert _state(store, "done") is None and _state(store, "idle") is None
    assert _state(store, "unresolved") == "interrupted"  # its answer may still be owed
    assert _state(store, "running") == "pending"  # a live run is never purged
    with store.sessions() as s:
        assert list(s.scalars(select(TxJournalEntry.key))) == ["unresolved"]
    store.end(running)


def test_an_expired_answer_frees_its_key(store: IdempotencyStore) -> None:
    claim = _claim(store, "old")
    store.finish(claim, 200, {"x": 1})
    store.end(claim)
    with store.sessions() as s:
        s.execute(update(IdempotencyRecord).values(expires_at=time.time() - 1))
        s.commit()
    fresh = _claim(store, "old", "another body")  # a new request now, not a reuse
    assert not fresh.resumed


def test_a_record_left_unknown_by_an_older_release_stays_unknown(
        store: IdempotencyStore) -> None:
    claim = _claim(store, "legacy")
    with store.sessions() as s:
        s.execute(update(IdempotencyRecord).values(state="unknown", owner=None))
        s.commit()
    store.end(claim)
    assert _conflict(store, "legacy") == "outcome_unknown"


def test_the_ttl_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().idempotency_ttl_s == 86_400
    monkeypatch.setenv("SCF_IDEMPOTENCY_TTL_S", "90")
    assert Settings().idempotency_ttl_s == 90


def test_the_platform_keeps_answers_for_the_configured_time(embedded_chain) -> None:  # type: ignore[no-untyped-def]
    from scf_chain.platform.core import Platform

    platform = Platform.open(Settings(idempotency_ttl_s=90), chain=embedded_chain)
    try:
        claim = _claim(platform.idempotency, "ttl")
        with platform.sessions() as s:
            rec = s.get(IdempotencyRecord, ("alice", "ttl"))
            assert rec is not None and rec.expires_at == pytest.approx(rec.created_at + 90)
        platform.idempotency.end(claim)
    finally:
        platform.close()
