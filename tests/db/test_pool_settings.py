"""SCF_DB_POOL_SIZE and SCF_DB_MAX_OVERFLOW bound a process's store connections."""

from __future__ import annotations

import itertools
import threading
from pathlib import Path

import pytest
from sqlalchemy import event, text

from scf_chain.config import Settings
from scf_chain.platform.parts import open_store
from tests.indexer.fixtures import fresh_pg_database


def test_the_pool_settings_reach_the_engine(tmp_path: Path) -> None:
    sessions = open_store(Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path}/s.db",
                                   db_pool_size=3, db_max_overflow=4))
    engine = sessions.kw["bind"]
    try:
        assert engine.pool.size() == 3
        assert engine.pool._max_overflow == 4
    finally:
        engine.dispose()


def test_the_defaults_are_fifty_connections_a_process_all_kept() -> None:
    s = Settings()
    assert (s.db_pool_size, s.db_max_overflow) == (50, 0)


@pytest.mark.postgres
def test_a_burst_of_requests_opens_each_connection_once_and_keeps_it(tmp_path: Path) -> None:
    """Over the pool's size, requests wait for a kept connection: none is opened and closed per
    request (with 20 kept + 30 extra, 256 clients' splits under interval mining started a
    PostgreSQL backend for about every third split: reports/bench_api.md counts them)."""
    with fresh_pg_database() as url:
        settings = Settings(data_dir=tmp_path, database_url=url, db_pool_size=8)
        sessions = open_store(settings)
        engine = sessions.kw["bind"]
        opened = itertools.count()
        event.listen(engine, "connect", lambda *_: next(opened))
        start = threading.Barrier(64)

        def request() -> None:
            start.wait()
            for _ in range(20):
                with sessions() as s:
                    s.execute(text("SELECT pg_sleep(0.001)"))
                    s.commit()

        try:
            threads = [threading.Thread(target=request) for _ in range(64)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert next(opened) <= 8  # 1,280 requests by 64 threads over 8 connections
            assert engine.pool.checkedin() == engine.pool.size() == 8
        finally:
            engine.dispose()
