"""The Idempotency-Key store: one run per key, replays, and requests the gateway never finished."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import update

from scf_chain import db
from scf_chain.db.models import IdempotencyRecord
from scf_chain.platform.idempotency import IdempotencyConflict, IdempotencyStore


@pytest.fixture()
def store(tmp_path: Path) -> IdempotencyStore:
    url = f"sqlite:///{tmp_path}/idem.db"
    db.upgrade(url)
    return IdempotencyStore(db.session_factory(db.make_engine(url)), stale_after_s=60)


def _conflict(store: IdempotencyStore, key: str, fingerprint: str = "h") -> str:
    with pytest.raises(IdempotencyConflict) as err:
        store.begin("alice", key, fingerprint)
    return err.value.code


def test_one_run_per_key_then_replays(store: IdempotencyStore) -> None:
    assert store.begin("alice", "k1", "h") is None
    assert _conflict(store, "k1") == "idempotency_key_in_use"  # still running
    store.finish("alice", "k1", 201, {"token_id": "7"})
    replay = store.begin("alice", "k1", "h")
    assert replay is not None and (replay.status_code, replay.body) == (201, {"token_id": "7"})
    assert _conflict(store, "k1", "other body") == "idempotency_key_reused"
    assert store.begin("bob", "k1", "h") is None  # keys are per participant


def test_a_request_the_gateway_never_finished_becomes_outcome_unknown(
        store: IdempotencyStore) -> None:
    """A gateway stopped between claiming a key and recording the answer (it may have sent a
    transaction): a retry is never run again, and after the stale time it is told the outcome
    is unknown instead of 'still running' forever."""
    assert store.begin("alice", "k2", "h") is None
    assert _conflict(store, "k2") == "idempotency_key_in_use"
    with store.sessions() as s:
        s.execute(update(IdempotencyRecord).where(IdempotencyRecord.key == "k2")
                  .values(created_at=time.time() - 61))
        s.commit()
    assert _conflict(store, "k2") == "outcome_unknown"
    assert _conflict(store, "k2") == "outcome_unknown"  # and stays so
    # should the first request finish after all, its answer is what retries get
    store.finish("alice", "k2", 200, {"ok": True})
    replay = store.begin("alice", "k2", "h")
    assert replay is not None and replay.body == {"ok": True}


def test_a_failure_before_any_effect_frees_the_key(store: IdempotencyStore) -> None:
    assert store.begin("alice", "k3", "h") is None
    store.abandon("alice", "k3")
    assert store.begin("alice", "k3", "h") is None
    store.abandon("alice", "k3", outcome_unknown=True)
    assert _conflict(store, "k3") == "outcome_unknown"
