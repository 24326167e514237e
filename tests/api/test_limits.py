"""Body size and rate limits: refused before the body is read, parsed or authenticated."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from api.limits import TokenBuckets
from api.main import create_app
from scf_chain.chain.embedded import EmbeddedChain
from scf_chain.clients import Role
from scf_chain.config import Settings
from scf_chain.platform.core import Platform

pytestmark = pytest.mark.xdist_group(__name__)
MiB = 1 << 20


class Upload:
    """An ASGI request whose body is produced on demand, counting what the app consumed."""

    def __init__(self, total: int, chunk: int = 64 * 1024, fill: bytes = b"7") -> None:
        self.total, self.chunk, self.fill, self.sent, self.calls = total, chunk, fill, 0, 0

    async def receive(self) -> dict[str, Any]:
        self.calls += 1
        n = min(self.chunk, self.total - self.sent)
        self.sent += n
        return {"type": "http.request", "body": self.fill * n, "more_body": self.sent < self.total}


async def call(app: Any, method: str, path: str, headers: dict[str, str],
               upload: Upload) -> tuple[int, dict[str, str], dict[str, Any]]:
    """Run one request through the app (no platform behind it: nothing may need one)."""
    messages: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": method, "scheme": "http", "path": path, "raw_path": path.encode(),
             "query_string": b"", "root_path": "", "client": ("203.0.113.9", 50000),
             "server": ("testserver", 80),
             "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]}
    await app(scope, upload.receive, send)
    start = next(m for m in messages if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    return (start["status"], {k.decode(): v.decode() for k, v in start["headers"]},
            json.loads(body))


def _app(**limits: Any) -> Any:
    return create_app(settings=Settings(**limits))


@pytest.mark.anyio
@pytest.mark.parametrize("path", ["/evidence/verify", "/receivables", "/participants"])
async def test_a_declared_oversized_body_is_refused_before_it_is_read(path: str) -> None:
    """150 MB announced: 413 at once, unauthenticated, and not one byte received."""
    upload = Upload(150 * 10**6)
    status, headers, body = await call(_app(), "POST", path,
                                       {"content-type": "application/json",
                                        "content-length": str(upload.total)}, upload)
    assert status == 413 and headers["content-type"].startswith("application/problem+json")
    assert body["code"] == "content_too_large" and body["status"] == 413
    assert upload.calls == 0 and upload.sent == 0


@pytest.mark.anyio
@pytest.mark.parametrize(("path", "limit"), [("/receivables", MiB),
                                             ("/evidence/verify", 4 * MiB),
                                             ("/evidence/documents", 4 * MiB)])
async def test_a_streamed_body_is_cut_off_at_its_limit(path: str, limit: int) -> None:
    """No Content-Length (chunked): counted as it arrives, refused one chunk past the limit."""
    upload = Upload(150 * 10**6)
    status, _, body = await call(_app(), "POST", path, {"content-type": "application/json",
                                                        "transfer-encoding": "chunked"}, upload)
    assert status == 413, body
    assert body["code"] == "content_too_large" and body["max_body_bytes"] == limit
    assert limit < upload.sent <= limit + upload.chunk


@pytest.mark.anyio
async def test_a_body_within_the_limit_reaches_the_route() -> None:
    """Under the limit the body is read whole and the request goes on (to validation here)."""
    upload = Upload(2 * MiB, fill=b" ")
    status, _, body = await call(_app(), "POST", "/evidence/verify",
                                 {"content-type": "application/json"}, upload)
    assert status == 422 and body["code"] == "validation_error"  # blank: parsed, refused
    assert upload.sent == upload.total


@pytest.mark.anyio
async def test_the_limits_are_settings() -> None:
    upload = Upload(2048)
    status, _, body = await call(_app(max_body_bytes=1024), "POST", "/receivables",
                                 {"content-type": "application/json"}, upload)
    assert status == 413 and body["max_body_bytes"] == 1024


@pytest.mark.anyio
async def test_a_rate_limited_request_is_refused_before_its_body_is_read() -> None:
    app = _app(rate_limit_anonymous_per_s=0.001, rate_limit_anonymous_burst=1)
    first, second = Upload(0), Upload(10)
    assert (await call(app, "GET", "/openapi.json", {}, first))[0] == 200  # spends the budget
    status, headers, body = await call(app, "POST", "/evidence/verify", {}, second)
    assert status == 429 and body["code"] == "rate_limited"
    assert int(headers["retry-after"]) >= 1 and second.calls == 0


# -- rate limits with real keys ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory,
             embedded_chain: EmbeddedChain) -> Iterator[Platform]:
    d: Path = tmp_path_factory.mktemp("limits")
    p = Platform.open(Settings(database_url=f"sqlite:///{d}/scf.db", data_dir=d,
                               keystore_path=d / "keys", document_store_path=d / "documents"),
                      chain=embedded_chain)
    yield p
    p.close()


@pytest.fixture(scope="module")
def keys(platform: Platform) -> dict[str, str]:
    out = {}
    for name in ("rl-a", "rl-b", "rl-c"):
        _, key = platform.create_participant(name, name, Role.SUPPLIER, 0)
        out[name] = key.token
    return out


def _client(platform: Platform, **limits: Any) -> TestClient:
    # a rate of one request in 1,000 s: nothing refills while the test runs, however slow
    settings = Settings(**{"rate_limit_per_s": 0.001, "rate_limit_anonymous_per_s": 0.001,
                           **limits})
    return TestClient(create_app(platform, settings=settings))


def test_a_burst_over_a_keys_limit_is_refused_and_other_keys_are_not(
        platform: Platform, keys: dict[str, str]) -> None:
    client = _client(platform, rate_limit_burst=3)
    a = {"Authorization": f"Bearer {keys['rl-a']}"}
    assert [client.get("/participants/me", headers=a).status_code for _ in range(3)] == [200] * 3
    r = client.get("/participants/me", headers=a)
    assert r.status_code == 429 and r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["code"] == "rate_limited" and body["status"] == 429
    assert 1 <= int(r.headers["Retry-After"]) <= 1000
    # the same key through the other header is the same key
    assert client.get("/participants/me", headers={"X-API-Key": keys["rl-a"]}).status_code == 429
    # other keys have their own buckets
    for name in ("rl-b", "rl-c"):
        r = client.get("/participants/me", headers={"X-API-Key": keys[name]})
        assert r.status_code == 200 and r.json()["name"] == name


def test_failed_authentications_are_limited_per_client_ip(platform: Platform,
                                                          keys: dict[str, str]) -> None:
    client = _client(platform, rate_limit_burst=10, rate_limit_anonymous_burst=3)
    b = {"Authorization": f"Bearer {keys['rl-b']}"}
    assert client.get("/participants/me", headers=b).status_code == 200  # known to be valid
    # a fresh invented key per request gets no fresh budget: the IP's is spent
    statuses = [client.get("/participants/me",
                           headers={"Authorization": f"Bearer scf_{i:016x}_guess"}).status_code
                for i in range(5)]
    assert statuses[:3] == [401, 401, 401] and set(statuses[3:]) == {429}, statuses
    assert client.get("/health").status_code == 429  # anonymous requests share that budget
    # a key that has authenticated is limited by its own bucket only
    assert client.get("/participants/me", headers=b).status_code == 200


def test_the_consoles_fixed_files_do_not_spend_the_anonymous_budget(platform: Platform) -> None:
    client = _client(platform, rate_limit_anonymous_per_s=0.001, rate_limit_anonymous_burst=2)
    # a browser loading the console page many times: page, script, styles, catalogue
    for _ in range(10):
        assert client.get("/console").status_code == 200
        assert client.get("/console/static/console.js").status_code == 200
    # the API behind them still counts every anonymous request
    assert [client.get("/health").status_code for _ in range(3)] == [200, 200, 429]
    assert client.post("/console").status_code == 429  # only reads of fixed files are free


def test_no_rate_limit_when_the_rate_is_zero(platform: Platform, keys: dict[str, str]) -> None:
    client = _client(platform, rate_limit_per_s=0, rate_limit_burst=1)
    c = {"X-API-Key": keys["rl-c"]}
    assert {client.get("/participants/me", headers=c).status_code for _ in range(5)} == {200}


# -- the bucket ------------------------------------------------------------------------------------
class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@given(rate=st.floats(0.1, 100), burst=st.integers(1, 50),
       gaps=st.lists(st.floats(0, 2), min_size=1, max_size=200))
def test_a_bucket_never_allows_more_than_its_burst_plus_its_rate(rate: float, burst: int,
                                                                gaps: list[float]) -> None:
    clock = Clock()
    buckets = TokenBuckets(rate, burst, clock=clock)
    allowed, start = 0, clock.t
    for gap in gaps:
        clock.t += gap
        wait = buckets.take("k")
        if wait == 0.0:
            allowed += 1
        else:
            # the wait it names is the time until one token: then the request passes
            assert buckets.wait("k") == pytest.approx(wait)
            assert 0 < wait <= 1 / rate + 1e-9
        assert allowed <= burst + (clock.t - start) * rate + 1e-6


def test_a_bucket_that_is_full_again_is_forgotten_when_the_table_grows() -> None:
    clock = Clock()
    buckets = TokenBuckets(1.0, 2, max_keys=3, clock=clock)
    for k in "abc":
        buckets.take(k)
    clock.t += 10  # all full again
    buckets.take("d")
    assert len(buckets._buckets) == 1
