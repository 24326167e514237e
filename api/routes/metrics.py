"""GET /metrics: Prometheus metrics for the operator's and auditors' monitoring."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector, CollectorRegistry

from api.deps import CallerDep
from scf_chain.clients import Role
from scf_chain.keeper.metrics import KeeperCollector
from scf_chain.obs import metrics as process_metrics

router = APIRouter(tags=["meta"])


class ChainCollector(Collector):
    """`scf_chain_head_block` and `scf_indexer_lag_blocks`, read at each scrape (absent while
    the node or the store does not answer: an alert on `absent()` then fires)."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from api.routes.health import indexer_lag

        platform = self.app.state.platform
        try:
            head = platform.chain.block_number()
        except Exception:  # the node is down: no head, no lag
            return
        yield GaugeMetricFamily("scf_chain_head_block", "The node's newest block", value=head)
        lag = indexer_lag(platform, head)
        if lag is not None:
            yield GaugeMetricFamily(
                "scf_indexer_lag_blocks", "Blocks the indexer is behind the newest block it "
                "may ingest (head minus SCF_CONFIRMATIONS)", value=lag)


class ProcessMetrics(Collector):
    """This process's counters and histograms (scf_chain.obs.metrics): requests by route,
    transactions sent/mined/failed, receipt latency, nonce gaps filled."""

    def collect(self) -> Iterator[Any]:
        yield from process_metrics.REGISTRY.collect()


def install(app: FastAPI) -> None:
    """The registry `/metrics` serves: the store's and chain's views read at scrape, and this
    process's own counters."""
    registry = CollectorRegistry()
    registry.register(KeeperCollector(lambda: app.state.platform.sessions))
    registry.register(ChainCollector(app))
    registry.register(ProcessMetrics())
    app.state.metrics = registry
    app.include_router(router)


@router.get("/metrics", response_class=Response,
            responses={200: {"content": {CONTENT_TYPE_LATEST: {}},
                             "description": "Prometheus text exposition format"}})
def metrics(request: Request, caller: CallerDep) -> Response:
    """Operator and auditors (a scraper sends their API key as a bearer token): request latency
    per route, transactions and receipts, nonce gaps filled, chain head and indexer lag, keeper
    payouts and stalled collections (the last two read from the store, every keeper's)."""
    caller.require(Role.OPERATOR, Role.AUDITOR)
    return Response(generate_latest(request.app.state.metrics), media_type=CONTENT_TYPE_LATEST)
