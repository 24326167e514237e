"""The FastAPI application: routers per domain, problem documents, the platform in app state."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from anyio import to_thread
from fastapi import FastAPI

from api import openapi, problems
from api.console import router as console
from api.limits import BodyLimitMiddleware, RateLimiter, RateLimitMiddleware, TokenBuckets
from api.observe import RequestContextMiddleware
from api.routes import (
    audit,
    custody,
    dev,
    evidence,
    financing,
    metrics,
    participants,
    receivables,
    risk,
    settlement,
    tokens,
)
from api.routes import health as probes
from scf_chain.config import Settings, get_settings
from scf_chain.keeper import Keeper
from scf_chain.platform.core import Platform

log = logging.getLogger("api")


class Background:
    """The indexer (and optionally the keeper) running beside the API until shutdown."""

    def __init__(self, platform: Platform, index_interval_s: float, keeper: Keeper | None = None,
                 keeper_interval_s: float = 5.0) -> None:
        self.platform, self.index_interval_s = platform, index_interval_s
        self.keeper, self.keeper_interval_s = keeper, keeper_interval_s
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []

    def _loop(self, name: str, interval: float, fn: Callable[[], object]) -> None:
        while not self.stop.wait(interval):
            try:
                fn()
            except Exception:  # keep running: the next pass retries from chain state
                log.exception("%s pass failed", name)

    def start(self) -> None:
        jobs: list[tuple[str, float, Callable[[], object]]] = [
            ("indexer", self.index_interval_s, lambda: self.platform.sync(force=True))]
        if self.keeper is not None:
            jobs.append(("keeper", self.keeper_interval_s, self.keeper.run_once))
        for name, interval, fn in jobs:
            t = threading.Thread(target=self._loop, args=(name, interval, fn), name=name,
                                 daemon=True)
            t.start()
            self.threads.append(t)

    def close(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=30)


def create_app(platform: Platform | None = None, background: bool = False,
               index_interval_s: float = 2.0, keeper: Keeper | None = None,
               settings: Settings | None = None) -> FastAPI:
    """The app. Without `platform`, one is opened from Settings at startup and closed at shutdown.

    `settings` gives the request limits (default: the platform's settings, else the environment).
    """
    limits = settings or (platform.settings if platform is not None else get_settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = platform is None
        p = platform or Platform.open()
        app.state.platform = p
        # a write holds its worker thread until its transaction is mined: anyio's default of
        # 40 threads capped a process at 40 writes per block
        to_thread.current_default_thread_limiter().total_tokens = p.settings.request_threads
        bg = Background(p, index_interval_s, keeper) if background else None
        if bg:
            bg.start()
        try:
            yield
        finally:
            if bg:
                bg.close()
            if owned:
                p.close()

    app = FastAPI(
        title="scf-chain gateway",
        version="0.1.0",
        description="Receivable vouchers on a chain: evidence, issuance, split and transfer, "
                    "financing, automatic pro-rata settlement, and the auditor's trace. Every "
                    "POST takes an Idempotency-Key; errors are RFC 9457 problem documents; "
                    "amounts and ids are decimal strings in the settlement token's smallest unit.",
        lifespan=lifespan,
    )
    if platform is not None:
        app.state.platform = platform
    problems.install(app)
    metrics.install(app)  # GET /metrics and the registry it serves
    for module in (participants, evidence, receivables, tokens, financing, settlement, audit, dev,
                   risk, probes):
        app.include_router(module.router)
    app.include_router(participants.policy_router)
    custody.install(app)  # /prepare<route> and /custody/submit (participants with their own keys)
    console.install(app)  # the web console at /console (api/console)
    openapi.install(app)
    # Added last, so they run first: a request over its rate or size limit is refused before
    # its body is read, parsed or authenticated.
    large = limits.max_document_body_bytes
    app.add_middleware(BodyLimitMiddleware, default=limits.max_body_bytes, limits={
        ("POST", "/evidence/documents"): large, ("POST", "/evidence/verify"): large})
    app.state.limiter = RateLimiter(
        TokenBuckets(limits.rate_limit_per_s, limits.rate_limit_burst),
        TokenBuckets(limits.rate_limit_anonymous_per_s, limits.rate_limit_anonymous_burst))
    app.add_middleware(RateLimitMiddleware, limiter=app.state.limiter)
    # outermost: every answer (a refusal by the limits too) gets its request id and is timed
    app.add_middleware(RequestContextMiddleware)

    @app.get("/health", tags=["meta"])
    def health() -> dict[str, Any]:
        p: Platform = app.state.platform
        cursor = p.indexer.cursor()
        return {"status": "ok", "chain_id": p.chain.chain_id(), "head": p.chain.block_number(),
                "head_time": p.chain.now(),
                "indexed_block": cursor[0] if cursor else None,
                "receivable_token": p.manifest.receivable_token}

    return app
