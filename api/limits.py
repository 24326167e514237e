"""Request limits applied before parsing and authentication: body size (413), rate per key (429)."""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import ProblemHTTPException, problem_response

HEADER_API_KEY = "x-api-key"


class BodyTooLarge(ProblemHTTPException):
    """Raised from `receive` once a streamed body crosses its limit (answered 413).

    An HTTPException so that FastAPI passes it on unchanged from wherever the body is read
    (the request handler, or a dependency) to the problem handlers."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, "content_too_large", "Content too large",
                         f"the request body exceeds the limit of {limit} bytes",
                         max_body_bytes=limit)


class RateLimited(ProblemHTTPException):
    """Raised where a limit is found exceeded inside the app (failed authentications)."""

    def __init__(self, wait: float) -> None:
        retry_after = max(1, math.ceil(wait))
        super().__init__(429, "rate_limited", "Too many requests",
                         f"over the request rate limit; retry after {retry_after} s",
                         headers={"Retry-After": str(retry_after)})


def too_large(limit: int) -> ASGIApp:
    return problem_response(413, "content_too_large", "Content too large",
                            f"the request body exceeds the limit of {limit} bytes",
                            max_body_bytes=limit)


class BodyLimitMiddleware:
    """Refuses a body over its limit before anything reads it.

    A declared Content-Length over the limit is answered 413 at once, without calling the app;
    a body of unknown length (chunked) is counted as the app receives it, and `receive` raises
    `BodyTooLarge` as soon as the count crosses the limit, so at most one chunk past the limit
    is ever read. `limits` gives other limits for some (method, path) pairs (document uploads).
    """

    def __init__(self, app: ASGIApp, default: int,
                 limits: Mapping[tuple[str, str], int] | None = None) -> None:
        self.app, self.default, self.limits = app, default, dict(limits or {})

    def limit_for(self, scope: Scope) -> int:
        return self.limits.get((scope["method"], scope["path"]), self.default)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope)
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await too_large(limit)(scope, receive, send)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def watching_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, watching_send)
        except BodyTooLarge:
            # read outside FastAPI's handlers (a middleware): answer here if nothing was sent
            if started:
                raise
            await too_large(limit)(scope, receive, send)


@dataclass
class _Bucket:
    tokens: float
    at: float


@dataclass
class TokenBuckets:
    """Token buckets by key: `rate` tokens a second up to `burst`; one request costs one token.

    In-process: each gateway process keeps its own buckets (several processes behind a load
    balancer would each allow the full rate). Buckets that are full again are dropped when the
    table grows past `max_keys`, so memory stays bounded by the keys active in one burst time.
    """

    rate: float
    burst: int
    max_keys: int = 100_000
    clock: Callable[[], float] = time.monotonic
    _buckets: dict[str, _Bucket] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def _refilled(self, key: str, now: float) -> _Bucket:
        b = self._buckets.get(key)
        if b is None:
            if len(self._buckets) >= self.max_keys:
                self._prune(now)
            b = self._buckets[key] = _Bucket(float(self.burst), now)
        else:
            b.tokens = min(float(self.burst), b.tokens + (now - b.at) * self.rate)
            b.at = now
        return b

    def _prune(self, now: float) -> None:
        full = [k for k, b in self._buckets.items()
                if b.tokens + (now - b.at) * self.rate >= self.burst]
        for k in full:
            del self._buckets[k]

    def take(self, key: str) -> float:
        """Spend one token: 0.0 when allowed, else the seconds until one is available."""
        if not self.enabled:
            return 0.0
        with self._lock:
            b = self._refilled(key, self.clock())
            if b.tokens >= 1.0:
                b.tokens -= 1.0
                return 0.0
            return (1.0 - b.tokens) / self.rate

    def wait(self, key: str) -> float:
        """Seconds until `key` has a token again, spending nothing (0.0: it has one)."""
        if not self.enabled:
            return 0.0
        with self._lock:
            b = self._refilled(key, self.clock())
            return 0.0 if b.tokens >= 1.0 else (1.0 - b.tokens) / self.rate


class RateLimiter:
    """Per API key, and per client IP for requests without a key that is known to be valid.

    A request with a key spends from that key's bucket. A key the gateway has not yet seen
    authenticate successfully is also refused while its client IP's bucket is empty, and every
    failed authentication spends from that bucket: guessing keys (or inventing a fresh key per
    request to get fresh buckets) is limited per IP like anonymous requests are. Keys are held
    by their SHA-256 only.
    """

    def __init__(self, per_key: TokenBuckets, per_ip: TokenBuckets,
                 known_keys: int = 100_000) -> None:
        self.per_key, self.per_ip = per_key, per_ip
        self._known: OrderedDict[str, None] = OrderedDict()
        self._known_max = known_keys
        self._lock = threading.Lock()

    @staticmethod
    def key_id(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    def mark_valid(self, token: str) -> None:
        k = self.key_id(token)
        with self._lock:
            self._known[k] = None
            self._known.move_to_end(k)
            while len(self._known) > self._known_max:
                self._known.popitem(last=False)

    def _is_known(self, key_id: str) -> bool:
        with self._lock:
            return key_id in self._known

    def check(self, token: str | None, client: str) -> float:
        """0.0 when the request may go on, else the seconds the client should wait."""
        if token is None:
            return self.per_ip.take("ip:" + client)
        key_id = self.key_id(token)
        if not self._is_known(key_id):
            wait = self.per_ip.wait("ip:" + client)
            if wait:
                return wait
        return self.per_key.take("key:" + key_id)

    def failed_authentication(self, client: str) -> float:
        """Charge a failed authentication to the client IP; the wait if it is over its limit."""
        return self.per_ip.take("ip:" + client)


def credential(headers: Headers) -> str | None:
    """The API key a request presents (either header), as sent; None without one."""
    key = headers.get(HEADER_API_KEY)
    if key and key.strip():
        return key.strip()
    scheme, _, token = (headers.get("authorization") or "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def client_ip(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def too_many(wait: float) -> ASGIApp:
    retry_after = max(1, math.ceil(wait))
    return problem_response(429, "rate_limited", "Too many requests",
                            f"over the request rate limit; retry after {retry_after} s",
                            headers={"Retry-After": str(retry_after)})


# Fixed files that touch neither the store nor the chain: the console's page and its scripts,
# styles and catalogues. A browser fetches several at each page load; charging them to the
# per-IP budget of anonymous requests would starve the console's real API calls behind them.
STATIC_PATHS = ("/console", "/console/")
STATIC_PREFIXES = ("/console/static/",)


def is_static(scope: Scope) -> bool:
    path = str(scope.get("path", ""))
    return scope.get("method") in ("GET", "HEAD") and (
        path in STATIC_PATHS or path.startswith(STATIC_PREFIXES))


class RateLimitMiddleware:
    """Answers 429 (with Retry-After) before the request is read, parsed or authenticated.
    The console's fixed files are not counted (`is_static`)."""

    def __init__(self, app: ASGIApp, limiter: RateLimiter) -> None:
        self.app, self.limiter = app, limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or is_static(scope):
            await self.app(scope, receive, send)
            return
        wait = self.limiter.check(credential(Headers(scope=scope)), client_ip(scope))
        if wait:
            await too_many(wait)(scope, receive, send)
            return
        await self.app(scope, receive, send)
