"""Per-account locks: one holder per account at a time, in a process and across processes."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import text

from scf_chain import db
from scf_chain.platform.locks import AccountLocks, advisory_key
from tests.indexer.fixtures import _pg_database  # noqa: F401  (a fresh database per session)

ALICE = "0x" + "a1" * 20
BOB = "0x" + "b0" * 20


def _wait_for(cond: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.02)


def _contend(first: AccountLocks, second: AccountLocks, account: str,
             second_is_waiting: Callable[[], bool]) -> list[str]:
    """`first` holds `account`; `second` tries it in a thread. The order things happened in."""
    events: list[str] = []
    entered = threading.Event()

    def other() -> None:
        with second.hold(account):
            events.append("second in")
            entered.set()

    with first.hold(account):
        events.append("first in")
        t = threading.Thread(target=other)
        t.start()
        _wait_for(lambda: second_is_waiting() or entered.is_set())
        events.append("first out")
    assert entered.wait(60)
    t.join(60)
    return events


def test_one_holder_per_account_in_a_process(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/l.db"
    locks = AccountLocks(db.make_engine(url))
    assert not locks.across_processes  # SQLite: one gateway process, thread locks suffice
    waiting = threading.Event()
    original = locks._thread_lock

    def spying(account: str) -> threading.Lock:
        lock = original(account)
        if lock.locked():
            waiting.set()
        return lock

    locks._thread_lock = spying  # type: ignore[method-assign]
    events = _contend(locks, locks, ALICE.upper().replace("0X", "0x"), waiting.is_set)
    assert events == ["first in", "first out", "second in"]
    done = threading.Event()

    def bob() -> None:
        with locks.hold(BOB):
            done.set()

    with locks.hold(ALICE):  # another account is not blocked by Alice's holder
        threading.Thread(target=bob).start()
        assert done.wait(60)


def test_advisory_keys_are_stable_and_case_blind() -> None:
    assert advisory_key(ALICE) == advisory_key(ALICE.upper().replace("0X", "0x"))
    assert advisory_key(ALICE) != advisory_key(BOB)
    assert -(2**63) <= advisory_key(ALICE) < 2**63


@pytest.mark.postgres
def test_postgres_advisory_lock_excludes_another_process(_pg_database: str) -> None:  # noqa: F811
    # two engines stand for two gateway processes: their thread locks know nothing of each other
    one, two = db.make_engine(_pg_database), db.make_engine(_pg_database)
    watcher = db.make_engine(_pg_database)
    try:
        a, b = AccountLocks(one), AccountLocks(two)
        assert a.across_processes and b.across_processes

        # only this lock counts: other tests and processes hold advisory locks of their own
        key = advisory_key(ALICE) & (2**64 - 1)
        alices = (f"SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                  f"AND classid = {key >> 32} AND objid = {key & (2**32 - 1)} AND objsubid = 1")

        def b_waits_on_postgres() -> bool:
            with watcher.connect() as conn:
                return bool(conn.execute(text(alices + " AND NOT granted")).scalar())

        assert _contend(a, b, ALICE, b_waits_on_postgres) == ["first in", "first out",
                                                               "second in"]
        # released: nobody holds Alice's advisory lock any more
        with watcher.connect() as conn:
            assert conn.execute(text(alices)).scalar() == 0
    finally:
        for e in (one, two, watcher):
            e.dispose()
