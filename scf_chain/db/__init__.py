"""Database engines, sessions and schema migration (Alembic) for the indexed store."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


POOL_SIZE = 20
POOL_OVERFLOW = 30
POOL_RECYCLE_S = 1800
CONNECT_TIMEOUT_S = 10


def make_engine(url: str | None = None, echo: bool = False) -> Engine:
    """An engine for `url` (default: Settings.database_url). SQLite files get their folder made."""
    if url is None:
        from scf_chain.config import get_settings

        url = get_settings().database_url
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    # A gateway runs up to 40 request threads beside the indexer and keeper: a pool that small
    # (SQLAlchemy's default is 5 + 10 overflow) opened and closed connections under load.
    pool: dict[str, int] = {} if ":memory:" in url else {"pool_size": POOL_SIZE,
                                                          "max_overflow": POOL_OVERFLOW}
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
    """Migrate the database at `url` to `revision` (the only supported way to create the schema)."""
    from alembic import command

    command.upgrade(alembic_config(url), revision)


__all__ = ["MIGRATIONS_DIR", "alembic_config", "make_engine", "session_factory", "upgrade"]
