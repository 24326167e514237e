"""Every request's id (X-Request-ID in and out, on every log line it causes), latency metric and access log."""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from scf_chain.obs import metrics
from scf_chain.obs.logs import request_id

log = logging.getLogger("api.access")

HEADER = b"x-request-id"
# a caller's id is kept when it is short printable text (it ends up in logs and headers)
_VALID_ID = re.compile(rb"^[A-Za-z0-9._:/+=-]{1,128}$")


def route_template(scope: Scope) -> str:
    """The matched route's path template (`/tokens/{token_id}/split`), never the raw path, so
    metrics keep one series per route; `unmatched` for paths no route serves."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) and path else "unmatched"


class RequestContextMiddleware:
    """Outermost: gives the request its id before anything else runs (limits included), answers
    with it in X-Request-ID, then records the latency under the route template and logs one
    access line."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._request(scope, receive, send)
        else:  # lifespan, websockets: nothing to time or name
            await self.app(scope, receive, send)

    async def _request(self, scope: Scope, receive: Receive, send: Send) -> None:
        given = next((v for k, v in scope.get("headers", ()) if k == HEADER), b"")
        rid = given.decode("ascii") if _VALID_ID.match(given) else uuid.uuid4().hex
        token = request_id.set(rid)
        started = time.perf_counter()
        status = 500  # an exception that escapes every handler ends as a 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers: list[Any] = list(message.get("headers", ()))
                headers.append((HEADER, rid.encode("ascii")))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            route = route_template(scope)
            metrics.request_done(scope["method"], route, status, seconds)
            log.info("%s %s %d %.1f ms", scope["method"], scope["path"], status, seconds * 1000,
                     extra={"method": scope["method"], "path": scope["path"], "route": route,
                            "status": status, "duration_ms": round(seconds * 1000, 2)})
            request_id.reset(token)
