"""API key secrets are returned once and persisted nowhere: not in any table of the store (the
idempotency records included), not in any file of the data folder; a replayed key-issuing
answer says the secret is not available instead of handing it out again."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from tests.api.conftest import Api, World

pytestmark = pytest.mark.xdist_group(__name__)


def _where_stored(world: World, secrets: list[str]) -> list[str]:
    """Every place in the store and the data folder holding one of `secrets`, as text."""
    found = []
    engine = world.platform.sessions.kw["bind"]
    with engine.connect() as conn:
        for table in inspect(conn).get_table_names():
            for row in conn.execute(text(f'SELECT * FROM "{table}"')):
                cells = " ".join(str(v) for v in row)
                found += [f"{table}: {cells[:80]}" for s in secrets if s in cells]
    data_dir = Path(world.platform.settings.data_dir)
    for f in data_dir.rglob("*"):
        if f.is_file():
            blob = f.read_bytes()
            found += [str(f) for s in secrets if s.encode() in blob]
    return found


def test_issued_api_keys_are_stored_nowhere_and_replays_withhold_them(world: World) -> None:
    name = f"secret-{uuid.uuid4().hex[:8]}"
    key = str(uuid.uuid4())
    body = {"name": name, "display_name": "S", "roles": ["supplier"]}
    created = world.operator.post("/participants", body, idem=key)
    assert created.status_code == 201, created.text
    first_secret = created.json()["api_key"]
    assert first_secret and created.json()["detail"] is None
    own = Api(world.client, first_secret)
    issue_key = str(uuid.uuid4())
    issued = own.post(f"/participants/{name}/api-keys", idem=issue_key)
    assert issued.status_code == 201, issued.text
    second_secret = issued.json()["api_key"]
    assert own.get("/participants/me").status_code == 200
    assert Api(world.client, second_secret).get("/participants/me").status_code == 200
    # the secret's hash lives in api_keys; the secret itself nowhere, in no table, in no file
    assert _where_stored(world, [first_secret, second_secret]) == []

    replay = world.operator.post("/participants", body, idem=key)
    assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"
    again = replay.json()
    assert again["api_key"] is None and "returned once" in again["detail"]
    assert again["key_id"] == created.json()["key_id"]
    assert again["participant"] == created.json()["participant"]
    replay = own.post(f"/participants/{name}/api-keys", idem=issue_key)
    assert replay.status_code == 201 and replay.json()["api_key"] is None
    assert replay.json()["key_id"] == issued.json()["key_id"]
    assert "new key" in replay.json()["detail"]
    # the OpenAPI document says so too
    schema = world.client.get("/openapi.json").json()["components"]["schemas"]
    for model in ("ParticipantCreated", "ApiKeyOut"):
        assert "first answer only" in schema[model]["properties"]["api_key"]["description"]
