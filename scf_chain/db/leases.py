"""Which gateway processes on a PostgreSQL store are alive, and store-wide advisory locks.

Each process holds a session advisory lock on its own random id for as long as it runs (on a
connection of its own): another process finds it alive when it cannot take that lock.
PostgreSQL releases the lock when the connection ends, so a killed process is seen dead at once.
On SQLite one process serves the store, and every other process is taken for dead.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, text

log = logging.getLogger("scf_chain.db.leases")

# the first key of PostgreSQL's two-key advisory locks, one space per use
PROCESS_SPACE = 0x5CF0_0001
INDEXER_SPACE = 0x5CF0_0002
PASS_SPACE = 0x5CF0_0003  # other store-wide passes one process at a time (the risk evidence pass)


def name_key(name: str) -> int:
    """A stable 31-bit key for a name (the second key of a two-key advisory lock)."""
    import hashlib

    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "big") >> 1


def is_postgres(engine: Engine | None) -> bool:
    return engine is not None and engine.dialect.name == "postgresql"


class ProcessLease:
    """This process's id, held as a PostgreSQL advisory lock while it runs (see the module)."""

    def __init__(self, engine: Engine | None) -> None:
        self.id = secrets.randbits(31)
        self._engine = engine if is_postgres(engine) else None
        self._conn: Connection | None = None
        self._guard = threading.Lock()
        if self._engine is not None:
            self._conn = self._engine.connect()
            self._conn.execute(text("SELECT pg_advisory_lock(:s, :k)"),
                               {"s": PROCESS_SPACE, "k": self.id})
            self._conn.commit()

    @property
    def shared(self) -> bool:
        """Whether other processes may serve the same store."""
        return self._engine is not None

    def alive(self, process_id: int) -> bool:
        """Whether the process `process_id` is running (this one always is)."""
        if process_id == self.id:
            return True
        if self._engine is None:
            return False
        with self._engine.connect() as conn:
            free = bool(conn.execute(text("SELECT pg_try_advisory_lock(:s, :k)"),
                                     {"s": PROCESS_SPACE, "k": process_id}).scalar())
            if free:
                conn.execute(text("SELECT pg_advisory_unlock(:s, :k)"),
                             {"s": PROCESS_SPACE, "k": process_id})
            conn.commit()
        return not free

    def close(self) -> None:
        with self._guard:
            conn, self._conn = self._conn, None
        if conn is not None:
            conn.invalidate()  # the connection ends, and with it the lock
            conn.close()


@contextmanager
def store_lock(engine: Engine | None, space: int, name: str, wait: bool = True) -> Iterator[bool]:
    """Hold a store-wide advisory lock on (`space`, `name`) for the block; yields whether it is
    held (always with `wait`; without, False when another process holds it). On SQLite (one
    process) it is always held."""
    if not is_postgres(engine):
        yield True
        return
    assert engine is not None
    key = name_key(name)
    conn = engine.connect()
    try:
        if wait:
            conn.execute(text("SELECT pg_advisory_lock(:s, :k)"), {"s": space, "k": key})
            held = True
        else:
            held = bool(conn.execute(text("SELECT pg_try_advisory_lock(:s, :k)"),
                                     {"s": space, "k": key}).scalar())
        conn.commit()
        try:
            yield held
        finally:
            if held:
                try:
                    conn.execute(text("SELECT pg_advisory_unlock(:s, :k)"),
                                 {"s": space, "k": key})
                    conn.commit()
                except Exception:  # dropping the connection releases the lock
                    log.warning("could not release advisory lock %s; dropping its connection",
                                name, exc_info=True)
                    conn.invalidate()
    finally:
        conn.close()
