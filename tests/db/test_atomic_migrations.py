"""Migrations are atomic (a run cut off anywhere leaves the store as it was) and a half-created
store is rebuilt when it holds nothing, refused with a clear error otherwise."""

from __future__ import annotations

import gzip
import hashlib
import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event, inspect, make_url, text
from sqlalchemy.engine import Engine

from scf_chain import db
from scf_chain.db.models import Base
from scf_chain.errors import StoreSchemaError

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
# the store left by a process killed while it created a fresh SQLite store (issue 10, item 11):
# 13 empty tables and an empty alembic_version
REPRO = HERE / "data" / "half-migrated-store.db.gz"
PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/scf_test"


def _tables(url: str) -> set[str]:
    engine = db.make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def _revision(url: str) -> list[str]:
    engine = db.make_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())
    finally:
        engine.dispose()


def _matches_models(url: str) -> None:
    engine = db.make_engine(url)
    try:
        with engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    finally:
        engine.dispose()


def _head() -> str:
    head = ScriptDirectory.from_config(db.alembic_config()).get_current_head()
    assert head is not None
    return head


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture()
def half_created(tmp_path: Path) -> Path:
    path = tmp_path / "half.db"
    path.write_bytes(gzip.decompress(REPRO.read_bytes()))
    return path


def test_the_reported_half_created_store_is_rebuilt_and_opens(half_created: Path) -> None:
    url = f"sqlite:///{half_created}"
    assert "evidence_revoked_leaves" in _tables(url) and _revision(url) == []
    db.upgrade(url)  # failed with "table evidence_revoked_leaves already exists"
    assert _revision(url) == [_head()]
    _matches_models(url)
    db.upgrade(url)  # and it stays usable


def test_a_half_created_store_holding_rows_is_refused_and_left_unchanged(half_created: Path) -> None:
    import sqlite3

    # a row in any of our tables makes the store something we may not drop
    cols = _columns(half_created, "participants")
    with sqlite3.connect(half_created) as conn:
        conn.execute(f"INSERT INTO participants ({', '.join(cols)}) "
                     f"VALUES ({', '.join('0' for _ in cols)})")
    before = _sha(half_created)
    with pytest.raises(StoreSchemaError, match=r"participants.*no migration revision.*Nothing "
                                               r"was changed.*alembic stamp"):
        db.upgrade(f"sqlite:///{half_created}")
    assert _sha(half_created) == before


def _columns(path: Path, table: str) -> list[str]:
    import sqlite3

    with sqlite3.connect(path) as conn:
        return [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]


def test_a_store_whose_tables_do_not_match_its_revision_is_refused(tmp_path: Path) -> None:
    script = ScriptDirectory.from_config(db.alembic_config())
    tables_at = db.tables_by_revision(script)
    revisions = list(tables_at)
    assert len(revisions) >= 2 and revisions[0] == "0001"
    # recorded at the first revision, but holding a table a later one creates (an upgrade cut
    # off before migrations were atomic)
    later = sorted(tables_at[revisions[-1]] - tables_at["0001"])
    assert later
    url = f"sqlite:///{tmp_path}/ahead.db"
    db.upgrade(url)
    _set_revision(url, "0001")
    with pytest.raises(StoreSchemaError, match=rf"revision 0001 .*not of that revision .*{later[0]}"):
        db.upgrade(url)
    # at the head, but a table is missing
    url = f"sqlite:///{tmp_path}/missing.db"
    db.upgrade(url)
    _exec(url, "DROP TABLE tokens")
    with pytest.raises(StoreSchemaError, match=r"missing tokens"):
        db.upgrade(url)
    # a revision this release does not know
    url = f"sqlite:///{tmp_path}/newer.db"
    db.upgrade(url)
    _set_revision(url, "9999")
    with pytest.raises(StoreSchemaError, match=r"revision 9999, which this release does not know"):
        db.upgrade(url)


def _exec(url: str, sql: str) -> None:
    engine = db.make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text(sql))
    finally:
        engine.dispose()


def _set_revision(url: str, rev: str) -> None:
    _exec(url, f"UPDATE alembic_version SET version_num = '{rev}'")


def test_every_revision_replays_to_the_tables_the_models_declare() -> None:
    script = ScriptDirectory.from_config(db.alembic_config())
    tables_at = db.tables_by_revision(script)
    assert tables_at[_head()] == set(Base.metadata.tables)


@pytest.mark.parametrize("kill_at", [1, 5, 13, 14, 16])
def test_a_migration_killed_between_two_statements_leaves_an_upgradable_store(
        tmp_path: Path, kill_at: int) -> None:
    """SIGKILL after the n-th CREATE TABLE/INDEX of a fresh store's migrations (13 tables in
    0001, then indexes and later revisions): the next start finds an empty store."""
    path = tmp_path / "killed.db"
    script = textwrap.dedent(f"""
        import os, signal
        from sqlalchemy import event
        from sqlalchemy.engine import Engine
        from scf_chain import db
        seen = 0
        @event.listens_for(Engine, "after_cursor_execute")
        def _kill(conn, cursor, statement, *args):
            global seen
            if conn.engine.url.database != {str(path)!r}:
                return  # the scratch replay of the migrations
            if statement.lstrip().upper().startswith("CREATE"):
                seen += 1
                if seen == {kill_at}:
                    os.kill(os.getpid(), signal.SIGKILL)
        db.upgrade("sqlite:///{path}")
    """)
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == -9, proc.stderr
    url = f"sqlite:///{path}"
    assert _tables(url) == set()
    db.upgrade(url)
    assert _revision(url) == [_head()]
    _matches_models(url)


@pytest.fixture()
def empty_pg() -> Iterator[str]:
    import psycopg

    base = os.environ.get("SCF_TEST_DATABASE_URL", PG_DEFAULT)
    u = make_url(base)
    admin = u.set(drivername="postgresql", database="postgres").render_as_string(
        hide_password=False)
    name = f"{u.database or 'scf_test'}_{uuid.uuid4().hex[:10]}"
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        if os.environ.get("CI") or os.environ.get("SCF_TEST_DATABASE_URL"):
            pytest.fail(f"PostgreSQL not reachable at {base}: {exc}")
        pytest.skip(f"PostgreSQL not reachable: {exc}")
    try:
        yield u.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class _Injected(RuntimeError):
    pass


@pytest.mark.parametrize("dialect", ["sqlite", pytest.param("postgresql",
                                                            marks=pytest.mark.postgres)])
def test_an_error_midway_through_the_migrations_rolls_all_of_them_back(
        request: pytest.FixtureRequest, tmp_path: Path, dialect: str) -> None:
    url = (f"sqlite:///{tmp_path}/err.db" if dialect == "sqlite"
           else request.getfixturevalue("empty_pg"))
    database = make_url(url).database
    created = 0

    def fail_after_some_ddl(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        nonlocal created
        if conn.engine.url.database == database and statement.lstrip().upper().startswith("CREATE"):
            created += 1
            if created == 8:
                raise _Injected("between two DDL statements")

    event.listen(Engine, "after_cursor_execute", fail_after_some_ddl)
    try:
        with pytest.raises(_Injected):
            db.upgrade(url)
    finally:
        event.remove(Engine, "after_cursor_execute", fail_after_some_ddl)
    assert created == 8
    assert _tables(url) == set()
    db.upgrade(url)
    assert _revision(url) == [_head()]
    _matches_models(url)


def test_two_processes_creating_one_store_at_once_both_succeed(tmp_path: Path) -> None:
    """The migration takes the write lock first (BEGIN IMMEDIATE): the second waits, then finds
    the first's revision instead of creating the tables again."""
    url = f"sqlite:///{tmp_path}/race.db"
    cmd = [sys.executable, "-c", f"from scf_chain import db; db.upgrade({url!r})"]
    procs = [subprocess.Popen(cmd, cwd=ROOT, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    assert _revision(url) == [_head()]


def test_the_applications_connections_keep_the_drivers_transaction_handling(tmp_path: Path) -> None:
    """The BEGIN recipe is scoped to the migration's own engine."""
    url = f"sqlite:///{tmp_path}/app.db"
    db.upgrade(url)
    engine = db.make_engine(url)
    try:
        with engine.connect() as conn:
            dbapi = conn.connection.dbapi_connection
            assert dbapi is not None and dbapi.isolation_level == ""
    finally:
        engine.dispose()


@pytest.mark.parametrize("dialect", ["sqlite", pytest.param("postgresql",
                                                            marks=pytest.mark.postgres)])
def test_a_store_that_lost_its_revision_is_rebuilt_when_empty_and_refused_when_not(
        request: pytest.FixtureRequest, tmp_path: Path, dialect: str) -> None:
    url = (f"sqlite:///{tmp_path}/lost.db" if dialect == "sqlite"
           else request.getfixturevalue("empty_pg"))
    db.upgrade(url)
    _exec(url, "DELETE FROM alembic_version")
    db.upgrade(url)  # every table empty: dropped (foreign keys in order) and created afresh
    assert _revision(url) == [_head()]
    _matches_models(url)
    _exec(url, "INSERT INTO indexer_cursor (name, last_block, last_block_hash) "
               "VALUES ('main', 5, '0x" + "ab" * 32 + "')")
    _exec(url, "DELETE FROM alembic_version")
    with pytest.raises(StoreSchemaError, match="indexer_cursor"):
        db.upgrade(url)
    assert _revision(url) == [] and "indexer_cursor" in _tables(url)
