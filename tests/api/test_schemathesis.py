"""Schemathesis against the gateway's own OpenAPI schema: no generated request gets a 5xx."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from api.main import create_app
from scf_chain.chain.embedded import EmbeddedChain
from scf_chain.config import Settings
from scf_chain.platform.core import Platform

pytestmark = pytest.mark.xdist_group("embedded")


# The schema does not depend on state; the platform is attached to the app by a fixture.
APP = create_app()
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.fixture(scope="module")
def platform(embedded_chain: EmbeddedChain) -> Iterator[Platform]:
    p = Platform.open(Settings(), chain=embedded_chain)
    APP.state.platform = p
    yield p
    p.close()


@pytest.fixture(scope="module")
def operator_key(platform: Platform) -> str:
    return platform.issue_api_key("operator").token


@schema.parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_request_gets_a_server_error(case, operator_key: str) -> None:  # type: ignore[no-untyped-def]
    headers = {"Authorization": f"Bearer {operator_key}", "Idempotency-Key": str(uuid.uuid4())}
    response = case.call(headers=headers)
    case.validate_response(response, checks=[not_a_server_error])
    if response.status_code >= 400:
        content_type = response.headers.get("content-type") or [""]
        assert content_type[0].startswith("application/problem+json"), response.text
