"""Database engines, sessions and schema migration (Alembic) for the indexed store."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, MetaData, create_engine, event, inspect, make_url, text
from sqlalchemy.orm import Session, sessionmaker

from scf_chain.errors import StoreSchemaError
from scf_chain.files import PRIVATE_FILE, create_private_file, private_dir, tighten

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

log = logging.getLogger("scf_chain.db")

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


POOL_SIZE = 50
POOL_OVERFLOW = 0
POOL_RECYCLE_S = 1800
CONNECT_TIMEOUT_S = 10


def make_engine(url: str | None = None, echo: bool = False, pool_size: int = POOL_SIZE,
                max_overflow: int = POOL_OVERFLOW) -> Engine:
    """An engine for `url` (default: Settings.database_url). SQLite files get their folder made.
    At most `pool_size` + `max_overflow` connections at once (SCF_DB_POOL_SIZE,
    SCF_DB_MAX_OVERFLOW)."""
    if url is None:
        from scf_chain.config import get_settings

        url = get_settings().database_url
    path = sqlite_file(url)
    if path is not None:
        _private_sqlite_file(path)
    # A gateway runs hundreds of request threads beside the indexer and keeper. A connection
    # beyond the pool's size is closed as soon as it is given back, so a burst over the size
    # opened and closed connections all along: under interval mining with 256 clients, 20 kept
    # + 30 extra opened 60 connections (PostgreSQL backend starts) for 200 splits and 127 for
    # 200 issues; keeping all 50 opened none and 27, and the store's CPU per split halved.
    pool: dict[str, int] = {} if ":memory:" in url else {"pool_size": pool_size,
                                                          "max_overflow": max_overflow}
    # A pooled connection can die while it sits idle (a PostgreSQL restart or failover, an
    # administrator's pg_terminate_backend, a firewall's idle timeout): test each one as it is
    # checked out (a dead one invalidates the pool and a fresh one is opened) and replace
    # connections before idle limits typically cut them.
    # A server that does not answer (a failover in progress) fails a connect after a bound
    # time instead of holding the request until the operating system gives up.
    connect_args = {"connect_timeout": CONNECT_TIMEOUT_S} if url.startswith("postgresql") else {}
    engine = create_engine(url, echo=echo, future=True, pool_pre_ping=True,  # type: ignore[arg-type]
                           pool_recycle=POOL_RECYCLE_S, connect_args=connect_args, **pool)
    if engine.dialect.name == "sqlite":
        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=10000")
            cur.close()
    return engine


def sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL (None: another database, or in memory)."""
    u = make_url(url)
    if u.get_backend_name() != "sqlite" or not u.database or u.database == ":memory:":
        return None
    if u.database.startswith("file:"):  # a URI filename: SQLite parses it, we leave it alone
        return None
    return Path(u.database)


def _private_sqlite_file(path: Path) -> None:
    """Make the database 0600 before SQLite first opens it: SQLite creates files 0644, but gives
    the -wal, -shm and -journal files the mode of the database, so all of them stay 0600.

    Missing folders are made 0700; an existing folder is left as it is (it may be shared, like
    /tmp): the data folder itself is made private by whoever owns it (`Platform.open`).
    """
    if not path.parent.exists():
        private_dir(path.parent)
    create_private_file(path)
    for p in (path, *(path.with_name(path.name + s) for s in ("-wal", "-shm", "-journal"))):
        tighten(p, PRIVATE_FILE)  # a store made before modes were enforced


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded values after commit (read models are handed to callers)."""
    return sessionmaker(engine, expire_on_commit=False)


def alembic_config(url: str | None = None) -> Config:
    """The Alembic config of this package, pointed at `url` (default: Settings.database_url)."""
    from alembic.config import Config

    ini = Path(__file__).resolve().parents[2] / "alembic.ini"
    cfg = Config(str(ini)) if ini.exists() else Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str | None = None, revision: str = "head") -> None:
    """Migrate the database at `url` to `revision` (the only supported way to create the schema).

    All pending migrations run in one transaction, on SQLite as on PostgreSQL (see
    migrations/env.py): a run cut off anywhere leaves the store as it was. Before migrating, the
    store is checked against its recorded revision (`check_store`): a half-created store is
    rebuilt when it holds nothing, and refused with StoreSchemaError otherwise.
    """
    from alembic import command

    cfg = alembic_config(url)
    cfg.attributes[CHECK_STORE] = True
    command.upgrade(cfg, revision)


CHECK_STORE = "scf_check_store"
VERSION_TABLE = "alembic_version"
BATCH_TMP_PREFIX = "_alembic_tmp_"  # alembic's copy of a table being rebuilt by a batch migration
_tables_cache: dict[str, dict[str, frozenset[str]]] = {}


def tables_by_revision(script: ScriptDirectory) -> dict[str, frozenset[str]]:
    """The tables a store holds at each revision, found by replaying the migrations from base on
    a scratch in-memory SQLite database (the migrations, not the models, say what a revision
    holds). Computed once per process."""
    cached = _tables_cache.get(script.dir)
    if cached is not None:
        return cached
    from alembic.migration import MigrationContext
    from alembic.operations import Operations

    out: dict[str, frozenset[str]] = {}
    engine = create_engine("sqlite://")
    try:
        with engine.begin() as conn, Operations.context(MigrationContext.configure(conn)):
            for rev in reversed(list(script.walk_revisions())):
                rev.module.upgrade()
                out[rev.revision] = frozenset(inspect(conn).get_table_names())
    finally:
        engine.dispose()
    _tables_cache[script.dir] = out
    return out


def check_store(conn: Connection, script: ScriptDirectory) -> None:
    """Check the store's tables against its recorded revision, inside the migration's transaction.

    - No revision recorded and none of our tables: a new store, migrated from base.
    - No revision recorded, some of our tables, all empty (a first migration cut off before
      migrations were atomic): nothing can be lost, so they are dropped and the store is
      created afresh (logged as a warning).
    - No revision but tables holding rows, a revision this release does not know, or tables
      that do not match the revision: StoreSchemaError saying what to do; nothing is changed.

    Tables that are not ours (another application's, in a shared database) are ignored.
    """
    tables_at = tables_by_revision(script)
    ours = frozenset().union(*tables_at.values())
    present = set(inspect(conn).get_table_names())
    leftovers = {t for t in present if t.startswith(BATCH_TMP_PREFIX)}
    where = conn.engine.url.render_as_string(hide_password=True)
    known = ", ".join(tables_at)
    versions: list[str] = []
    if VERSION_TABLE in present:
        versions = list(conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars())
    if not versions:
        found = sorted((present & ours) | leftovers)
        if not found:
            return
        quote = conn.dialect.identifier_preparer.quote
        holding = [t for t in found if conn.execute(text(f"SELECT 1 FROM {quote(t)} LIMIT 1")).first()]
        if holding:
            raise StoreSchemaError(
                f"the store {where} has scf-chain tables holding data ({', '.join(holding)}) but "
                "no migration revision: its creation or an upgrade was cut off (before "
                "migrations were atomic), or its alembic_version table was emptied. Nothing was "
                "changed. Restore it from a backup; or, if you know the revision its tables are "
                f"at ({known}), record it with `alembic stamp <revision>` and upgrade again")
        log.warning("the store %s was half created (tables %s, all empty, and no migration "
                    "revision): dropping them and creating it afresh", where, ", ".join(found))
        stale = MetaData()
        stale.reflect(conn, only=found)
        stale.drop_all(conn)
        return
    unknown = [v for v in versions if v not in tables_at]
    if unknown:
        raise StoreSchemaError(
            f"the store {where} is at revision {', '.join(unknown)}, which this release does not "
            f"know (its revisions: {known}); was it migrated by a newer release? Run that "
            "release, or restore a backup taken before")
    expected = frozenset().union(*(tables_at[v] for v in versions))
    missing = sorted(expected - present)
    unexpected = sorted(((present & ours) - expected) | leftovers)
    if missing or unexpected:
        diff = "; ".join(part for part in (
            f"missing {', '.join(missing)}" if missing else "",
            f"not of that revision {', '.join(unexpected)}" if unexpected else "") if part)
        raise StoreSchemaError(
            f"the store {where} is recorded at revision {', '.join(versions)} but its tables do "
            f"not match it ({diff}): an upgrade was cut off (before migrations were atomic), or "
            "the schema was changed by hand. Nothing was changed. Restore it from a backup, or "
            "bring its tables back to that revision by hand and upgrade again")


__all__ = ["MIGRATIONS_DIR", "alembic_config", "check_store", "make_engine", "session_factory",
           "sqlite_file", "tables_by_revision", "upgrade"]
