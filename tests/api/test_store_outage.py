"""A store that drops or refuses connections: the gateway answers 503 store_unavailable with
Retry-After (never 500), keeps keep-alive connections open, and reads recover on their own."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
import uvicorn

from api.main import create_app
from scf_chain import db
from scf_chain.chain.embedded import EmbeddedChain
from scf_chain.config import Settings
from scf_chain.platform.core import Platform
from tests.indexer.fixtures import _pg_admin, fresh_pg_database

pytestmark = pytest.mark.postgres

READS = ("/participants/me", "/receivables", "/participants")


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    """A database of this module's own: its backends are terminated without touching others'."""
    with fresh_pg_database() as url:
        yield url


def terminate_backends(url: str) -> int:
    """Terminate every other session of the database at `url` (as a failover or restart does)."""
    admin, name = _pg_admin(url)
    with psycopg.connect(admin, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()", (name,)).fetchall()
    return len(rows)


@dataclass
class Server:
    platform: Platform
    port: int
    key: str

    def connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)

    def get(self, conn: http.client.HTTPConnection, path: str) -> tuple[int, dict[str, str], Any]:
        """One request on a kept-alive connection (raises if the server reset it)."""
        conn.request("GET", path, headers={"Authorization": f"Bearer {self.key}"})
        resp = conn.getresponse()
        body = resp.read()
        assert not resp.will_close, f"{path}: the server closed the keep-alive connection"
        return resp.status, dict(resp.getheaders()), json.loads(body) if body else None

    def post(self, conn: http.client.HTTPConnection, path: str,
             payload: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
        conn.request("POST", path, body=json.dumps(payload),
                     headers={"Authorization": f"Bearer {self.key}",
                              "Content-Type": "application/json",
                              "Idempotency-Key": str(uuid.uuid4())})
        resp = conn.getresponse()
        body = resp.read()
        assert not resp.will_close, f"{path}: the server closed the keep-alive connection"
        return resp.status, dict(resp.getheaders()), json.loads(body) if body else None


@pytest.fixture(scope="module")
def server(pg_url: str, embedded_chain: EmbeddedChain) -> Iterator[Server]:
    """The gateway on PostgreSQL, served by uvicorn on a real socket (keep-alive, as clients use)."""
    # the load below is one API key reading as fast as it can: no rate limit in the way; and
    # every request authenticates against the store (no remembered keys), so that each one
    # meets the outage
    platform = Platform.open(Settings(database_url=pg_url, rate_limit_per_s=0, auth_cache_s=0),
                             chain=embedded_chain)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(create_app(platform), log_level="warning", lifespan="off",
                            timeout_keep_alive=60)
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while not srv.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            assert thread.is_alive(), "uvicorn stopped while starting"
            time.sleep(0.05)
        yield Server(platform, sock.getsockname()[1], platform.issue_api_key("operator").token)
    finally:
        srv.should_exit = True
        thread.join(timeout=30)
        sock.close()
        platform.close()


def _warm(server: Server, threads: int = 4) -> None:
    """Several reads at once, so the pool holds several connections to be cut."""
    def read() -> None:
        conn = server.connect()
        for path in READS:
            assert server.get(conn, path)[0] == 200
        conn.close()

    workers = [threading.Thread(target=read) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()


def test_reads_after_backends_are_terminated_succeed(server: Server, pg_url: str) -> None:
    _warm(server)
    conn = server.connect()
    assert server.get(conn, "/participants/me")[0] == 200
    assert terminate_backends(pg_url) > 0
    for path in READS:  # every pooled connection is dead: each is tested and replaced
        status, _, body = server.get(conn, path)
        assert status == 200, body
    conn.close()


def test_reads_under_load_never_answer_500_while_backends_are_terminated(
        server: Server, pg_url: str) -> None:
    stop = threading.Event()
    statuses: Counter[int] = Counter()
    failures: list[str] = []
    lock = threading.Lock()

    def reader(n: int) -> None:
        conn = server.connect()
        i = n
        try:
            while not stop.is_set():
                path = READS[i % len(READS)]
                i += 1
                status, headers, body = server.get(conn, path)
                with lock:
                    statuses[status] += 1
                    if status == 503 and (body.get("code") != "store_unavailable"
                                          or "retry-after" not in {h.lower() for h in headers}):
                        failures.append(f"{path}: 503 without store_unavailable/Retry-After")
                    elif status not in (200, 503):
                        failures.append(f"{path}: {status} {body}")
        except Exception as exc:  # a reset or a broken answer
            with lock:
                failures.append(f"reader {n}: {exc!r}")
        finally:
            conn.close()

    readers = [threading.Thread(target=reader, args=(n,)) for n in range(4)]
    for r in readers:
        r.start()
    terminated = 0
    try:
        for _ in range(8):
            # wait for reads to go through between two cuts (never a fixed sleep as a check)
            seen = sum(statuses.values())
            deadline = time.monotonic() + 60
            while sum(statuses.values()) < seen + 8 and time.monotonic() < deadline:
                if failures or not any(r.is_alive() for r in readers):
                    break
                time.sleep(0.01)
            terminated += terminate_backends(pg_url)
    finally:
        stop.set()
        for r in readers:
            r.join(timeout=60)
    assert not failures, failures[:5]
    assert terminated > 0
    assert statuses[500] == 0
    assert statuses[200] > 8 * 8 // 2, statuses
    # once the cuts stop, every read succeeds again
    conn = server.connect()
    for path in READS * 3:
        status, _, body = server.get(conn, path)
        assert status == 200, body
    conn.close()


def _refusing_url() -> str:
    """A PostgreSQL URL whose server refuses connections (a port nothing listens on)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"postgresql+psycopg://postgres@127.0.0.1:{port}/scf"


def test_unreachable_store_answers_503_with_retry_after_and_recovers(server: Server) -> None:
    sessions = server.platform.sessions
    good = sessions.kw["bind"]
    down = db.make_engine(_refusing_url())
    conn = server.connect()
    try:
        sessions.configure(bind=down)  # every store access of the platform now fails to connect
        for path in READS:
            status, headers, body = server.get(conn, path)
            assert status == 503, body
            assert body["code"] == "store_unavailable"
            assert body["type"].endswith("/store_unavailable")
            assert int(headers["retry-after"]) > 0
        status, headers, body = server.post(conn, "/participants", {
            "name": "nobody", "display_name": "Nobody", "roles": ["supplier"]})
        assert status == 503, body
        assert body["code"] == "store_unavailable" and int(headers["retry-after"]) > 0
    finally:
        sessions.configure(bind=good)
        down.dispose()
    # the same keep-alive connection carries on once the store is back
    for path in READS:
        status, _, body = server.get(conn, path)
        assert status == 200, body
    conn.close()


class _CutNextStatements:
    """Terminates the backend under the next `times` statements of `engine` (a restart that
    lands mid-request, after the pool has tested the connection)."""

    def __init__(self, engine: Any, pg_url: str, times: int) -> None:
        self.engine, self.left = engine, times
        self.admin, _ = _pg_admin(pg_url)
        self.lock = threading.Lock()

    def __call__(self, conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        with self.lock:
            if self.left == 0:
                return
            self.left -= 1
        pid = conn.connection.dbapi_connection.info.backend_pid
        with psycopg.connect(self.admin, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))

    def __enter__(self) -> _CutNextStatements:
        from sqlalchemy import event

        event.listen(self.engine, "before_cursor_execute", self)
        return self

    def __exit__(self, *_: Any) -> None:
        from sqlalchemy import event

        event.remove(self.engine, "before_cursor_execute", self)


def test_a_read_cut_mid_request_is_retried_once(server: Server, pg_url: str) -> None:
    engine = server.platform.sessions.kw["bind"]
    conn = server.connect()
    with _CutNextStatements(engine, pg_url, times=1) as cut:
        status, _, body = server.get(conn, "/participants/me")
    assert cut.left == 0
    assert status == 200, body
    with _CutNextStatements(engine, pg_url, times=2) as cut:  # the retry is cut too
        status, headers, body = server.get(conn, "/participants/me")
    assert cut.left == 0
    assert status == 503 and body["code"] == "store_unavailable", body
    assert int(headers["retry-after"]) > 0
    assert server.get(conn, "/participants/me")[0] == 200
    conn.close()


def test_a_write_cut_mid_request_is_not_retried(server: Server, pg_url: str) -> None:
    engine = server.platform.sessions.kw["bind"]
    conn = server.connect()
    with _CutNextStatements(engine, pg_url, times=1) as cut:
        status, headers, body = server.post(conn, "/participants", {
            "name": f"cut-{uuid.uuid4().hex[:8]}", "display_name": "Cut", "roles": ["supplier"]})
    assert cut.left == 0
    assert status == 503 and body["code"] == "store_unavailable", body
    assert int(headers["retry-after"]) > 0
    conn.close()
