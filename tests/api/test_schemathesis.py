"""Schemathesis against the gateway's own OpenAPI document, every check enabled, three roles.

The document is the contract: status codes, content types, response schemas and headers must be
the ones declared, schema-violating requests must be refused (4xx) and schema-valid ones must
not be refused as invalid, undeclared methods get 405 with Allow, and a request without its
credentials gets 401. Each role presents its key its own way (bearer or X-API-Key).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import CHECKS, load_all_checks

from api.main import create_app
from scf_chain.chain.embedded import EmbeddedChain
from scf_chain.clients import Role
from scf_chain.config import Settings
from scf_chain.platform.core import Platform

pytestmark = pytest.mark.xdist_group(__name__)

load_all_checks()
ALL_CHECKS = list(CHECKS.get_all())  # the Python API's `--checks all`

# The rate limit stays on, high enough for one key fuzzing as fast as it can.
APP = create_app(settings=Settings(rate_limit_per_s=10_000, rate_limit_burst=10_000,
                                   rate_limit_anonymous_per_s=10_000,
                                   rate_limit_anonymous_burst=10_000))
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)
# Credentials are the test's: each case is sent with one role's real key. Generating values for
# the security schemes as well would send a random second key beside it (answered 401
# conflicting_credentials, correctly, but then nothing behind authentication is exercised).
schema.config.generation.update(with_security_parameters=False)

ROLES = {"operator": None, "supplier": Role.SUPPLIER, "auditor": Role.AUDITOR}


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory,
         embedded_chain: EmbeddedChain) -> Iterator[dict[str, str]]:
    """A platform on its own store; the operator's key and one participant per other role."""
    d: Path = tmp_path_factory.mktemp("schemathesis")
    platform = Platform.open(Settings(database_url=f"sqlite:///{d}/scf.db", data_dir=d,
                                      keystore_path=d / "keys",
                                      document_store_path=d / "documents"),
                             chain=embedded_chain)
    APP.state.platform = platform
    out = {"operator": platform.issue_api_key("operator").token}
    for role, flag in ROLES.items():
        if flag is not None:
            _, key = platform.create_participant(f"st-{role}", role.title(), flag, 0)
            out[role] = key.token
    yield out
    platform.close()


def _headers(case, role: str, key: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """The role's key, and a fresh Idempotency-Key unless the case tests a bad one.

    Schema-valid cases get a UUID (a generated key such as "0" would be reused by a later case
    with another body: 422 idempotency_key_reused, correct but not what the case is about);
    negative cases keep what was generated, or its absence, since that may be the point.
    """
    headers = {"X-API-Key": key} if role == "supplier" else {"Authorization": f"Bearer {key}"}
    if case.meta is None or case.meta.generation.mode.is_positive:
        headers["Idempotency-Key"] = str(uuid.uuid4())
    return headers


@pytest.mark.parametrize("role", list(ROLES))
@schema.parametrize()
@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_answer_conforms_to_the_contract(case, keys: dict[str, str], role: str) -> None:  # type: ignore[no-untyped-def]
    headers = _headers(case, role, keys[role])
    response = case.call(headers=headers)
    checks = ALL_CHECKS
    if response.status_code == 422 and _code(response) == "unknown_participant":
        # a well-formed name of nobody: the schema can say what a name looks like, not that the
        # participant exists, so this schema-valid request is rightly refused (every other check
        # still applies)
        checks = [c for c in ALL_CHECKS if c.__name__ != "positive_data_acceptance"]
    case.validate_response(response, checks=checks, headers=headers)


def _code(response) -> str | None:  # type: ignore[no-untyped-def]
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get("code") if isinstance(body, dict) else None
