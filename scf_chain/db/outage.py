"""Which database errors mean the store cannot be reached, as opposed to a bug in a statement."""

from __future__ import annotations

from sqlalchemy import exc as sa_exc


def is_store_outage(exc: BaseException) -> bool:
    """Whether `exc` says the store could not be reached or dropped the connection (a restart,
    a failover, an administrator's pg_terminate_backend, an exhausted pool, a locked SQLite
    file): worth answering "unavailable, retry later" rather than "internal error"."""
    if isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError)):
        return True
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is only needed for PostgreSQL
        return False
    return isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError))


def is_disconnect(exc: BaseException) -> bool:
    """A pooled connection died under a statement: the same work on a new connection may well
    succeed (the pool has already discarded the dead one)."""
    return isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated


__all__ = ["is_disconnect", "is_store_outage"]
