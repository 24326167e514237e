"""POST /tokens/{id}/split-many: one token's value to many participants, idempotent as a whole."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from scf_chain.contracts.encoding import MAX_BATCH_RECIPIENTS
from tests.api.conftest import World
from tests.api.test_routes import _problem, _receivable, cast  # noqa: F401  (cast: a fixture)


def test_a_batch_gives_each_recipient_a_token_and_a_retry_moves_nothing_again(
        world: World, cast: dict[str, Any]) -> None:  # noqa: F811
    _, token = _receivable(world, cast)
    a_api, (b, b_api), bank = cast["a"][1], cast["b"], cast["bank"][0]
    body = {"to": [b, bank, b], "values": ["1000", 2500, "7"]}
    key = str(uuid.uuid4())
    first = a_api.post(f"/tokens/{token}/split-many", body, idem=key)
    assert first.status_code == 201, first.text
    again = a_api.post(f"/tokens/{token}/split-many", body, idem=key)
    assert again.status_code == 201 and again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    out = first.json()
    assert out["from_token_id"] == str(token)
    parts = out["parts"]
    assert [p["value"] for p in parts] == ["1000", "2500", "7"]
    assert [p["to"].lower() for p in parts] == [world.address(x).lower() for x in (b, bank, b)]
    assert a_api.get(f"/tokens/{token}").json()["value"] == str(500_000 - 3507)
    mine = {t["token_id"]: t["value"] for t in b_api.get("/tokens").json()["items"]}
    assert mine == {parts[0]["token_id"]: "1000", parts[2]["token_id"]: "7"}
    _problem(a_api.post(f"/tokens/{token}/split-many", {"to": [b], "values": ["1"]}, idem=key),
             422, "idempotency_key_reused")


@pytest.mark.parametrize(("body", "status", "code"), [
    ({"to": [], "values": []}, 422, "validation_error"),                    # empty
    ({"to": ["B", "B"], "values": ["1"]}, 422, "validation_error"),         # length mismatch
    ({"to": ["B"] * (MAX_BATCH_RECIPIENTS + 1), "values": ["1"] * (MAX_BATCH_RECIPIENTS + 1)},
     422, "validation_error"),                                              # too many
    ({"to": ["B", "B"], "values": ["10", "0"]}, 422, "contract_InvalidValue"),  # a zero value
    ({"to": ["B", "B"], "values": ["400000", "100001"]}, 422,
     "contract_InsufficientValue"),                                         # over the value
    ({"to": ["B", "nobody-here"], "values": ["1", "1"]}, 422, "unknown_participant"),
])
def test_bad_batches_are_problems_and_move_nothing(world: World, cast: dict[str, Any],  # noqa: F811
                                                  body: dict[str, Any], status: int,
                                                  code: str) -> None:
    _, token = _receivable(world, cast)
    b, a_api = cast["b"][0], cast["a"][1]
    body = {**body, "to": [b if x == "B" else x for x in body["to"]]}
    _problem(a_api.post(f"/tokens/{token}/split-many", body), status, code)
    assert a_api.get(f"/tokens/{token}").json()["value"] == "500000"


def test_only_the_holder_sends_a_batch(world: World, cast: dict[str, Any]) -> None:  # noqa: F811
    _, token = _receivable(world, cast)
    a, b_api = cast["a"][0], cast["b"][1]
    body = _problem(b_api.post(f"/tokens/{token}/split-many", {"to": [a], "values": ["1"]}), 403)
    assert body["code"] == "not_token_owner", body


def test_the_route_is_documented(world: World) -> None:
    op = world.client.get("/openapi.json").json()["paths"]["/tokens/{token_id}/split-many"]["post"]
    assert "201" in op["responses"] and "idempotent" in op["description"]
    schema = op["requestBody"]["content"]["application/json"]["schema"]["$ref"].split("/")[-1]
    body = world.client.get("/openapi.json").json()["components"]["schemas"][schema]
    assert body["properties"]["to"]["maxItems"] == MAX_BATCH_RECIPIENTS
