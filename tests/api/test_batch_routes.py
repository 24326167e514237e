"""Batch routes, each idempotent as a whole: POST /tokens/{id}/split-many (one token's value to
many participants) and POST /tokens/batch/redeem (many tokens' holders paid what is due)."""

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
    body = {"parts": [{"to": b, "value": "1000"}, {"to": bank, "value": 2500},
                      {"to": b, "value": "7"}]}
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
    _problem(a_api.post(f"/tokens/{token}/split-many", {"parts": [{"to": b, "value": "1"}]},
                        idem=key), 422, "idempotency_key_reused")


def _parts(*pairs: tuple[str, str]) -> dict[str, Any]:
    return {"parts": [{"to": to, "value": value} for to, value in pairs]}


@pytest.mark.parametrize(("body", "status", "code"), [
    (_parts(), 422, "validation_error"),                                    # empty
    (_parts(*[("B", "1")] * (MAX_BATCH_RECIPIENTS + 1)), 422, "validation_error"),  # too many
    ({"parts": [{"to": "B"}]}, 422, "validation_error"),                    # a part without value
    (_parts(("B", "10"), ("B", "0")), 422, "contract_InvalidValue"),        # a zero value
    (_parts(("B", "400000"), ("B", "100001")), 422, "contract_InsufficientValue"),  # over value
    (_parts(("B", "1"), ("nobody-here", "1")), 422, "unknown_participant"),
])
def test_bad_batches_are_problems_and_move_nothing(world: World, cast: dict[str, Any],  # noqa: F811
                                                  body: dict[str, Any], status: int,
                                                  code: str) -> None:
    _, token = _receivable(world, cast)
    b, a_api = cast["b"][0], cast["a"][1]
    body = {"parts": [{**p, "to": b if p["to"] == "B" else p["to"]} for p in body["parts"]]}
    _problem(a_api.post(f"/tokens/{token}/split-many", body), status, code)
    assert a_api.get(f"/tokens/{token}").json()["value"] == "500000"


def test_only_the_holder_sends_a_batch(world: World, cast: dict[str, Any]) -> None:  # noqa: F811
    _, token = _receivable(world, cast)
    a, b_api = cast["a"][0], cast["b"][1]
    body = _problem(b_api.post(f"/tokens/{token}/split-many", _parts((a, "1"))), 403)
    assert body["code"] == "not_token_owner", body


def test_the_route_is_documented(world: World) -> None:
    op = world.client.get("/openapi.json").json()["paths"]["/tokens/{token_id}/split-many"]["post"]
    assert "201" in op["responses"] and "idempotent" in op["description"]
    schema = op["requestBody"]["content"]["application/json"]["schema"]["$ref"].split("/")[-1]
    body = world.client.get("/openapi.json").json()["components"]["schemas"][schema]
    assert body["properties"]["parts"]["maxItems"] == MAX_BATCH_RECIPIENTS


def test_redeem_many_pays_each_holder_once_and_skips_what_is_not_due(
        world: World, cast: dict[str, Any]) -> None:  # noqa: F811
    slot, token = _receivable(world, cast)
    (core_api, a_api), b = (cast["core"][1], cast["a"][1]), cast["b"][0]
    part = int(a_api.post(f"/tokens/{token}/split", {"to": b, "value": "100000"}).json()["token_id"])
    other_slot, other = _receivable(world, cast)
    ids = {"token_ids": [str(token), str(part), str(other)]}
    before = core_api.post("/tokens/batch/redeem", ids).json()
    assert before["amount"] == "0" and before["redemptions"] == []  # nothing due yet
    assert before["skipped"] == [str(token), str(part), str(other)]
    r = core_api.post(f"/receivables/{slot}/repayments", {"amount": "500000"})
    assert r.status_code == 200, r.text
    key = str(uuid.uuid4())
    first = core_api.post("/tokens/batch/redeem", ids, idem=key)
    assert first.status_code == 200, first.text
    again = core_api.post("/tokens/batch/redeem", ids, idem=key)
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    out = first.json()
    assert out["amount"] == "500000" and out["skipped"] == [str(other)]
    assert {(x["token_id"], x["amount"]) for x in out["redemptions"]} == {
        (str(token), "400000"), (str(part), "100000")}
    st = core_api.get(f"/receivables/{slot}/settlement").json()
    assert st["paid_out"] == "500000" and st["status"] == "settled"
    assert core_api.get(f"/receivables/{other_slot}/settlement").json()["paid_out"] == "0"


@pytest.mark.parametrize("token_ids", [[], ["1", "1"], [str(i) for i in range(1, 102)]])
def test_bad_redemption_batches_are_problems(world: World, token_ids: list[str]) -> None:
    r = world.operator.post("/tokens/batch/redeem", {"token_ids": token_ids})
    _problem(r, 422, "validation_error")


def test_redeem_many_needs_tokens_the_caller_sees(world: World, cast: dict[str, Any]) -> None:  # noqa: F811
    _, token = _receivable(world, cast)
    _problem(cast["b"][1].post("/tokens/batch/redeem", {"token_ids": [str(token)]}), 404)
    _problem(cast["a"][1].post("/tokens/batch/redeem", {"token_ids": [str(token + 10**6)]}), 404)
