"""The OpenAPI document as the contract, and the answers it promises (auth, 405, strict types)."""

from __future__ import annotations

from typing import Any

import pytest

from api.main import create_app
from tests.api.conftest import Api, World
from tests.api.test_routes import _problem, _receivable

pytestmark = pytest.mark.xdist_group(__name__)

DOC = create_app().openapi()
OPERATIONS = [(path, method, op) for path, item in DOC["paths"].items()
              for method, op in item.items()]
# no API key: the summary and the liveness and readiness probes (orchestrators call them bare)
PUBLIC = {("/health", "get"), ("/healthz", "get"), ("/readyz", "get")}


# -- the document --------------------------------------------------------------------------------------
def test_keys_are_security_schemes_not_parameters() -> None:
    schemes = DOC["components"]["securitySchemes"]
    assert schemes["bearer"] == {"type": "http", "scheme": "bearer",
                                 "description": schemes["bearer"]["description"]}
    assert (schemes["apiKey"]["type"], schemes["apiKey"]["in"], schemes["apiKey"]["name"]) == (
        "apiKey", "header", "X-API-Key")
    for path, method, op in OPERATIONS:
        names = {p["name"].lower() for p in op.get("parameters", [])}
        assert not names & {"authorization", "x-api-key"}, (path, method)
        if (path, method) in PUBLIC:
            assert "security" not in op
        else:
            assert op["security"] == [{"bearer": []}, {"apiKey": []}], (path, method)


def test_every_operation_declares_its_problems() -> None:
    assert DOC["components"]["schemas"]["Problem"]["required"] == ["type", "title", "status",
                                                                   "code"]
    assert "HTTPValidationError" not in DOC["components"]["schemas"]
    for path, method, op in OPERATIONS:
        responses = op["responses"]
        expected = {"429", "503"}
        if (path, method) not in PUBLIC:
            expected |= {"401", "403", "404"}
        if method == "post":
            expected |= {"409", "413", "422"}
        assert expected <= set(responses), (path, method, sorted(responses))
        for status, response in responses.items():
            if int(status) >= 400:
                assert response["content"] == {"application/problem+json": {
                    "schema": {"$ref": "#/components/schemas/Problem"}}}, (path, status)
        assert responses["429"]["headers"]["Retry-After"]["required"] is True


def test_every_write_requires_an_idempotency_key() -> None:
    for path, _, op in OPERATIONS:
        keys = [p for p in op.get("parameters", []) if p["name"].lower() == "idempotency-key"]
        if keys and path.startswith("/prepare/"):
            # a prepare signs and sends nothing: the key is optional there, and only there
            assert keys[0]["required"] is False, path
        elif keys:
            assert keys[0]["required"] is True and {"400", "504"} <= set(op["responses"]), path


def test_amounts_are_strings_or_exact_numbers() -> None:
    split = DOC["components"]["schemas"]["SplitIn"]["properties"]["value"]
    assert split["anyOf"][1] == {"type": "integer", "minimum": 0, "maximum": 2**53 - 1}


# -- the answers ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cast(world: World) -> dict[str, Any]:
    # the session's PostgreSQL store is shared by every module's gateway: names of our own
    names: dict[str, list[tuple[str, Api]]] = {}
    for role, prefix, funds in (("debtor", "core", 10**9), ("supplier", "sup", 0),
                                ("supplier", "sup", 0), ("anchorer", "log", 0),
                                ("auditor", "aud", 0)):
        names.setdefault(prefix, []).append(world.participant(f"contract-{prefix}", [role],
                                                              funds))
    core = names["core"][0]
    r = world.operator.post(f"/participants/{core[0]}/credit-limit", {"limit": str(10**10)})
    assert r.status_code == 200, r.text
    return {"core": core, "a": names["sup"][0], "b": names["sup"][1], "log": names["log"][0],
            "aud": names["aud"][0]}


def test_different_keys_in_both_headers_are_refused(world: World, cast: dict[str, Any]) -> None:
    a_key, b_key = cast["a"][1].key, cast["b"][1].key
    r = world.client.get("/participants/me", headers={"Authorization": f"Bearer {a_key}",
                                                      "X-API-Key": b_key})
    _problem(r, 401, "conflicting_credentials")
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    # the same key twice is one key; either header alone works
    both = {"Authorization": f"Bearer {a_key}", "X-API-Key": a_key}
    for headers in (both, {"X-API-Key": a_key}, {"Authorization": f"Bearer {a_key}"}):
        r = world.client.get("/participants/me", headers=headers)
        assert r.status_code == 200 and r.json()["name"] == cast["a"][0]
    _problem(world.client.get("/participants/me", headers={"Authorization": f"Basic {a_key}"}),
             401, "unauthorized")


def test_a_405_names_every_method_of_the_resource(world: World) -> None:
    r = world.client.delete("/participants", headers=world.operator.headers())
    _problem(r, 405, "method_not_allowed")
    assert {m.strip() for m in r.headers["Allow"].split(",")} == {"GET", "POST"}
    r = world.client.put("/participants/someone/api-keys", headers=world.operator.headers())
    assert {m.strip() for m in r.headers["Allow"].split(",")} == {"GET", "POST"}


@pytest.mark.parametrize("value", [False, True, "1", 1.5, None, [1]])
def test_verify_takes_a_chain_id_only_as_an_integer(world: World, cast: dict[str, Any],
                                                    value: Any) -> None:
    bundle = {"version": 1, "chain_id": value, "registry": "0x" + "11" * 20,
              "root": "0x" + "22" * 32, "leaf": "0x" + "33" * 32, "doc_hash": "0x" + "44" * 32,
              "fields_root": "0x" + "55" * 32, "proof": [],
              "disclosure": {"kind": "invoice", "doc_key": "0x" + "66" * 32,
                             "commitments": {"kind": "0x" + "77" * 32}, "disclosed": {}}}
    body = _problem(cast["aud"][1].post("/evidence/verify", bundle), 422, "validation_error")
    assert body["errors"][0]["loc"][:2] == ["body", "chain_id"]


@pytest.mark.parametrize(("field", "value"), [("maturity", True), ("maturity", "1900000000"),
                                              ("face_value", True), ("face_value", 1.5),
                                              ("face_value", 2**53)])
def test_request_bodies_are_strict(world: World, cast: dict[str, Any], field: str,
                                   value: Any) -> None:
    body = {"debtor": cast["core"][0], "face_value": "1000", "maturity": 1_900_000_000,
            "invoice_doc_id": "x", "order_doc_id": "y", "delivery_doc_id": "z", field: value}
    problem = _problem(cast["a"][1].post("/receivables", body), 422, "validation_error")
    assert problem["errors"][0]["loc"][:2] == ["body", field]


def test_documents_take_dates_only_as_iso_text(world: World, cast: dict[str, Any]) -> None:
    a, core = world.address(cast["a"][0]), world.address(cast["core"][0])
    invoice = {"kind": "invoice", "number": "INV-STRICT", "seller": a, "buyer": core,
               "order_number": "PO-STRICT", "amount": 5, "tax": 0, "issue_date": 1_790_000_000}
    _problem(cast["a"][1].post("/evidence/documents", invoice), 422, "validation_error")
    _problem(cast["a"][1].post("/evidence/documents", {**invoice, "issue_date": "2026-09-03",
                                                       "amount": "5"}), 422, "validation_error")


def test_time_travel_twice_moves_forward_twice(world: World) -> None:
    times = []
    for _ in range(3):
        r = world.operator.post("/dev/time-travel", {"seconds": 1})
        assert r.status_code == 200, r.text
        times.append(r.json()["timestamp"])
    assert times == sorted(set(times))


def test_moving_value_of_a_token_given_away_names_the_real_reason(world: World,
                                                                  cast: dict[str, Any]) -> None:
    _, token = _receivable(world, cast)
    (a, a_api), (b, _) = cast["a"], cast["b"]
    kept = a_api.post(f"/tokens/{token}/split", {"to": a, "value": "1000"}).json()["token_id"]
    assert a_api.post(f"/tokens/{token}/transfer", {"to": b}).status_code == 200
    body = _problem(a_api.post(f"/tokens/{token}/split", {"to": b, "value": "1"}), 403,
                    "not_token_owner")
    assert body["revert"]["error"] == "InsufficientAllowance"  # the contract's words, kept
    _problem(a_api.post(f"/tokens/{token}/merge", {"into_token_id": kept, "value": "1"}), 403,
             "not_token_owner")
    # a holder short of value still hears about the value, not about ownership
    _problem(a_api.post(f"/tokens/{kept}/split", {"to": b, "value": "1001"}), 422,
             "contract_InsufficientValue")


def test_offering_or_transferring_a_token_given_away_names_the_real_reason(
        world: World, cast: dict[str, Any]) -> None:
    _, token = _receivable(world, cast)
    (a, a_api), (b, b_api) = cast["a"], cast["b"]
    bank, _ = world.participant("contract-bank", ["financier"])
    kept = a_api.post(f"/tokens/{token}/split", {"to": a, "value": "1000"}).json()["token_id"]
    assert a_api.post(f"/tokens/{token}/transfer", {"to": b}).status_code == 200
    expiry = world.platform.chain.now() + 86_400
    offer = {"token_id": str(token), "value": "100", "financier": bank, "price": "90",
             "expiry": expiry}
    body = _problem(a_api.post("/offers", offer), 403, "not_token_owner")
    assert body["revert"]["error"] == "NotTokenOwner"
    body = _problem(a_api.post(f"/tokens/{token}/transfer", {"to": b}), 403, "not_token_owner")
    assert body["revert"]["error"] == "WrongFrom"
    # the holder's own refusals keep the contract's answer; the new holder may act
    _problem(a_api.post("/offers", {**offer, "token_id": kept, "price": "101"}), 422,
             "contract_InvalidPrice")
    r = b_api.post("/offers", offer)
    assert r.status_code == 201, r.text
    assert b_api.post(f"/offers/{r.json()['offer_id']}/cancel").status_code == 200
