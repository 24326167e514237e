"""Following the chain survives a store that refuses or drops its connections (a restart)."""

from __future__ import annotations

import logging
import socket
import threading
import time
from typing import Any

import pytest

from scf_chain import db
from scf_chain.db.models import IndexerCursor
from scf_chain.indexer import run_indexer
from tests.indexer.scenario import run_scenario


def _refusing_url(dialect: str, tmp_path: Any) -> str:
    if dialect == "sqlite":  # a folder where the database file should be: it cannot be opened
        return f"sqlite:///{tmp_path}"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"postgresql+psycopg://postgres@127.0.0.1:{port}/scf"


def test_run_indexer_retries_while_the_store_is_down_then_catches_up(
        store, deployed, tmp_path, caplog: pytest.LogCaptureFixture) -> None:  # type: ignore[no-untyped-def]
    system, dep = deployed
    run_scenario(system, finish=False)
    head = system.chain.block_number()
    down = db.make_engine(_refusing_url(store.dialect, tmp_path))
    sessions = db.session_factory(down)  # the store is unreachable when the indexer starts
    stop = threading.Event()
    errors: list[BaseException] = []

    def follow() -> None:
        try:
            run_indexer(system.chain, sessions, dep, stop, poll_interval_s=0.02, confirmations=0)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    caplog.set_level(logging.WARNING, logger="scf_chain.indexer.ingest")
    thread = threading.Thread(target=follow, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while sum("indexer:" in r.getMessage() for r in caplog.records) < 2:
            assert thread.is_alive(), errors
            assert time.monotonic() < deadline, "the indexer never tried the store"
            time.sleep(0.01)
        sessions.configure(bind=store.engine)  # the store is back
        deadline = time.monotonic() + 120
        while True:
            with store.sessions() as s:
                cursor = s.get(IndexerCursor, "default")
                if cursor is not None and cursor.last_block >= head:
                    break
            assert thread.is_alive(), errors
            assert time.monotonic() < deadline, "the indexer did not catch up"
            time.sleep(0.02)
    finally:
        stop.set()
        thread.join(30)
        down.dispose()
    assert not thread.is_alive() and not errors
