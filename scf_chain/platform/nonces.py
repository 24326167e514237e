"""Transaction nonces kept in the store, so several gateway processes can sign for one account.

One row per account in `account_nonces` holds the next nonce. A send locks the row (an upsert
that takes PostgreSQL's row lock) before it signs and keeps it until the node has accepted the
raw transaction: no other process can sign that nonce meanwhile, and a transaction the node
refuses (or that never left: the process died, the connection dropped) commits nothing, so its
nonce is used by the next send instead of leaving a gap. A process killed after the node took
its transaction but before the commit leaves the row one behind: the next send gets the node's
"nonce too low" and reads the nonce from the node (see `TxSender.send_raw`). The journal entry
(`tx_journal`) is written, by the sender's journal, before the broadcast as before.

PostgreSQL only: SQLite serves one gateway process, whose senders keep nonces in memory.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, Table, bindparam, update
from sqlalchemy.dialects.postgresql import insert

from scf_chain.db.models import AccountNonce


class StoreNonceHold:
    """The locked row of one account: `next` as stored (None: ask the node); `store` writes the
    next nonce, committed when the hold ends."""

    def __init__(self, next_nonce: int | None) -> None:
        self.next = next_nonce
        self.changed = False

    def store(self, nonce: int | None) -> None:
        self.next, self.changed = nonce, True


class StoreNonces:
    """Every account's next nonce in the PostgreSQL store behind `engine` (see the module)."""

    def __init__(self, engine: Engine) -> None:
        if engine.dialect.name != "postgresql":
            raise ValueError("nonces are shared through PostgreSQL only")
        self.engine = engine
        # A hold keeps its connection (the row lock) while the journal writes the transaction
        # down on a second one, and a request may hold a third: with more holds at once than a
        # third of the pool, every connection could be a hold waiting for its journal's, and
        # the process would stall until the pool's timeout (seen with 256 request threads
        # sending for 256 accounts). Holds beyond that wait here, holding nothing.
        pool = engine.pool
        capacity = int(getattr(pool, "size", lambda: 5)()) + int(getattr(pool, "_max_overflow", 10))
        self._holders = threading.BoundedSemaphore(max(1, capacity // 3))
        table = AccountNonce.__table__
        assert isinstance(table, Table)
        # one round trip: the row is created if missing, locked either way, and read
        # built once, with parameters: SQLAlchemy reuses the compiled statements
        upsert = insert(table).values(account=bindparam("b_account"), next_nonce=None,
                                      updated_at=bindparam("b_at"))
        self._lock_row = upsert.on_conflict_do_update(
            index_elements=[table.c.account], set_={"account": upsert.excluded.account}
        ).returning(table.c.next_nonce)
        self._store = update(table).where(table.c.account == bindparam("b_account")).values(
            next_nonce=bindparam("b_next"), updated_at=bindparam("b_at"))

    @contextmanager
    def hold(self, account: str) -> Iterator[StoreNonceHold]:
        """Lock `account`'s row for the block; what the block `store`s is committed at its end
        (also when it raises: the node may have accepted the transaction before the error)."""
        with self._holders, self.engine.connect() as conn:
            stored = conn.execute(self._lock_row, {"b_account": account.lower(),
                                                   "b_at": time.time()}).scalar()
            hold = StoreNonceHold(None if stored is None else int(stored))
            try:
                yield hold
            finally:
                if hold.changed:
                    conn.execute(self._store, {"b_account": account.lower(),
                                               "b_next": hold.next, "b_at": time.time()})
                    conn.commit()
                else:
                    conn.rollback()

    def forget(self, account: str) -> None:
        """Read `account`'s nonce from the node at its next send (a dev chain's snapshot was
        reverted under it)."""
        with self.engine.begin() as conn:
            conn.execute(update(AccountNonce).where(AccountNonce.account == account.lower())
                         .values(next_nonce=None, updated_at=time.time()))
