"""A platform on the embedded chain behind the HTTP app, and clients holding participants' keys."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from scf_chain.chain.embedded import EmbeddedChain
from scf_chain.config import Settings
from scf_chain.platform.core import Platform
from tests.indexer.fixtures import _pg_database, fresh_pg_database  # noqa: F401


class Api:
    """A TestClient acting with one API key; every POST gets a fresh Idempotency-Key."""

    def __init__(self, client: TestClient, key: str | None) -> None:
        self.client, self.key = client, key

    def headers(self, idem: str | None = None) -> dict[str, str]:
        h = {"Authorization": f"Bearer {self.key}"} if self.key else {}
        if idem is not None:
            h["Idempotency-Key"] = idem
        return h

    def get(self, path: str, **kw: Any) -> Any:
        return self.client.get(path, headers=self.headers(), **kw)

    def delete(self, path: str, **kw: Any) -> Any:
        return self.client.delete(path, headers=self.headers(), **kw)

    def post(self, path: str, json: Any = None, idem: str | None = None, **kw: Any) -> Any:
        return self.client.post(path, json=json, headers=self.headers(idem or str(uuid.uuid4())),
                                **kw)


class World:
    """The platform, the app and named participants' Api handles."""

    def __init__(self, platform: Platform, client: TestClient, operator_key: str) -> None:
        self.platform, self.client = platform, client
        self.operator = Api(client, operator_key)
        self.apis: dict[str, Api] = {}
        self._n = itertools.count()

    def participant(self, prefix: str, roles: list[str], funds: int = 0) -> tuple[str, Api]:
        name = f"{prefix}-{next(self._n)}"
        r = self.operator.post("/participants", {"name": name, "display_name": name.title(),
                                                 "roles": roles, "dev_funds": str(funds)})
        assert r.status_code == 201, r.text
        api = Api(self.client, r.json()["api_key"])
        self.apis[name] = api
        return name, api

    def address(self, name: str) -> str:
        return self.platform.participant(name).address


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql",
                                                                marks=pytest.mark.postgres)])
def world(request: pytest.FixtureRequest, embedded_chain: EmbeddedChain) -> Iterator[World]:
    """The gateway on a fresh store: SQLite, or a new PostgreSQL database."""
    with ExitStack() as stack:
        settings = Settings()
        if request.param == "postgresql":
            # a database of its own: modules on one worker register the same participant names
            settings = Settings(database_url=stack.enter_context(fresh_pg_database()))
        platform = Platform.open(settings, chain=embedded_chain)
        stack.callback(platform.close)
        key = platform.issue_api_key("operator").token
        with TestClient(create_app(platform)) as client:
            yield World(platform, client, key)
