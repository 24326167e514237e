"""SCF_DB_POOL_SIZE and SCF_DB_MAX_OVERFLOW bound a process's store connections."""

from __future__ import annotations

from pathlib import Path

from scf_chain.config import Settings
from scf_chain.platform.parts import open_store


def test_the_pool_settings_reach_the_engine(tmp_path: Path) -> None:
    sessions = open_store(Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path}/s.db",
                                   db_pool_size=3, db_max_overflow=4))
    engine = sessions.kw["bind"]
    try:
        assert engine.pool.size() == 3
        assert engine.pool._max_overflow == 4
    finally:
        engine.dispose()


def test_the_defaults_are_fifty_connections_a_process() -> None:
    s = Settings()
    assert (s.db_pool_size, s.db_max_overflow) == (20, 30)
