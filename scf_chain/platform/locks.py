"""Per-account locks: one allowance-using operation (approve, then the paying call) at a time.

An ERC-20 allowance is one number per (owner, spender) and `approve` overwrites it, so two
requests of one account that each read, approve and pay would undo each other's approvals (the
second `approve` replaces the first before the first payment pulls). Holding the account's lock
from the read to the paying call's receipt makes such operations one after another.

Inside a process a `threading.Lock` per account does it. When the store is PostgreSQL the lock
is also a PostgreSQL session advisory lock keyed by the account, so gateways in several
processes sharing the store exclude each other too; it is taken after the thread lock, so a
process waits on PostgreSQL with at most one connection per account. PostgreSQL releases an
advisory lock when its connection ends, so a process killed while holding one blocks nobody.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, text

log = logging.getLogger("scf_chain.platform.locks")


def advisory_key(account: str) -> int:
    """A signed 64-bit PostgreSQL advisory-lock key for an account (stable across processes)."""
    digest = hashlib.sha256(b"scf-chain/account/" + account.lower().encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class AccountLocks:
    """`with locks.hold(address): ...` runs the block while no other holder of `address` runs."""

    def __init__(self, engine: Engine | None = None) -> None:
        self._engine = engine if engine is not None and engine.dialect.name == "postgresql" else None
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}

    @property
    def across_processes(self) -> bool:
        return self._engine is not None

    def _thread_lock(self, account: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(account.lower(), threading.Lock())

    @contextmanager
    def hold(self, account: str) -> Iterator[None]:
        with self._thread_lock(account):
            if self._engine is None:
                yield
                return
            key = advisory_key(account)
            conn = self._engine.connect()
            try:
                conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
                conn.commit()
                try:
                    yield
                finally:
                    try:
                        conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                        conn.commit()
                    except Exception:  # a connection that may still hold the lock never goes back to the pool
                        log.warning("could not release the advisory lock of %s; dropping its "
                                    "connection (which releases it)", account, exc_info=True)
                        conn.invalidate()
            finally:
                conn.close()
