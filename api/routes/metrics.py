"""GET /metrics: Prometheus metrics for the operator's and auditors' monitoring."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.deps import CallerDep
from scf_chain.clients import Role

router = APIRouter(tags=["meta"])


@router.get("/metrics", response_class=Response,
            responses={200: {"content": {CONTENT_TYPE_LATEST: {}},
                             "description": "Prometheus text exposition format"}})
def metrics(request: Request, caller: CallerDep) -> Response:
    """Operator and auditors (a scraper sends their API key as a bearer token): stalled
    collections by reason and their shortfall, read from the store at each scrape."""
    caller.require(Role.OPERATOR, Role.AUDITOR)
    return Response(generate_latest(request.app.state.metrics), media_type=CONTENT_TYPE_LATEST)
