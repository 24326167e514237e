"""Alembic environment: migrates the database named by sqlalchemy.url or Settings.database_url."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, Engine, event, text

from scf_chain.db import CHECK_STORE, check_store, make_engine
from scf_chain.db.models import Base

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from scf_chain.config import get_settings

    return get_settings().database_url


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True,
                      render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


# Any constant: PostgreSQL scopes advisory locks to the database.
PG_MIGRATION_LOCK = 0x5CF_0001


def _sqlite_transactional_ddl(engine: Engine) -> None:
    """Make SQLite's DDL transactional, on this migration engine only.

    pysqlite (Python < 3.12) begins a transaction only before INSERT/UPDATE/DELETE, so each
    CREATE TABLE committed on its own and a run killed midway left a half-created store. The
    SQLAlchemy recipe: switch the driver's BEGIN off and emit ours. IMMEDIATE takes the write
    lock at once, so two processes migrating one store run one after the other and the second
    finds the first's revision.
    """
    @event.listens_for(engine, "connect")
    def _driver_leaves_transactions_to_us(dbapi_conn, _record):  # type: ignore[no-untyped-def]
        dbapi_conn.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def run_migrations_online() -> None:
    engine = make_engine(_url())
    if engine.dialect.name == "sqlite":
        _sqlite_transactional_ddl(engine)
    try:
        with engine.connect() as connection:
            # one transaction for all pending migrations: a store is at its old revision or
            # at the new one, never in between
            context.configure(connection=connection, target_metadata=target_metadata,
                              render_as_batch=connection.dialect.name == "sqlite",
                              transactional_ddl=True, transaction_per_migration=False)
            with context.begin_transaction():
                if connection.dialect.name == "postgresql":
                    connection.execute(text("SELECT pg_advisory_xact_lock(:k)"),
                                       {"k": PG_MIGRATION_LOCK})
                if config.attributes.get(CHECK_STORE):
                    check_store(connection, context.script)
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
