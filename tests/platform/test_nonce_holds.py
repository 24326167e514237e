"""Many accounts sending at once through a small connection pool: a nonce hold keeps its
connection while the journal takes a second one, so without a bound on holds every connection
could be a hold waiting for its journal's (the process stalled until the pool's timeout with 256
request threads sending for 256 accounts)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import create_engine, text

from scf_chain.platform.nonces import StoreNonces
from tests.indexer.fixtures import fresh_pg_database

pytestmark = pytest.mark.postgres

ACCOUNTS = 24


def test_holds_for_many_accounts_never_starve_the_pool() -> None:
    with fresh_pg_database() as url:
        # three connections in all; a request that waits 5 s for one fails
        engine = create_engine(url, pool_size=2, max_overflow=1, pool_timeout=5)
        try:
            nonces = StoreNonces(engine)
            barrier = threading.Barrier(ACCOUNTS, timeout=30)

            def send(i: int) -> int:
                account = f"0x{i:040x}"
                barrier.wait()  # every account's send starts at once
                with nonces.hold(account) as hold:
                    # the journal writes the transaction down on a connection of its own
                    with engine.begin() as journal:
                        journal.execute(text("SELECT 1"))
                    nonce = 0 if hold.next is None else hold.next
                    hold.store(nonce + 1)
                    return nonce

            with ThreadPoolExecutor(ACCOUNTS) as pool:
                assert list(pool.map(send, range(ACCOUNTS))) == [0] * ACCOUNTS
            # and each account's next nonce is stored
            with nonces.hold(f"0x{3:040x}") as hold:
                assert hold.next == 1
        finally:
            engine.dispose()
