"""Every route: the happy path, auth failures, role limits, idempotency, bad input → 4xx problems."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.api.conftest import Api, World

pytestmark = pytest.mark.xdist_group(__name__)
DAY = 86_400


def _trade(w: World, buyer: str, seller: str, tag: str, amount: int = 1_000_000) -> dict[str, Any]:
    b, s = w.address(buyer), w.address(seller)
    return {
        "order": {"kind": "purchase_order", "number": f"PO-{tag}", "buyer": b, "seller": s,
                  "issue_date": "2026-09-01", "amount": amount,
                  "lines": [{"sku": "X", "quantity": 1, "unit_price": amount}]},
        "delivery": {"kind": "logistics", "waybill": f"W-{tag}", "carrier": "SF",
                     "order_number": f"PO-{tag}", "event": "delivered",
                     "timestamp": "2026-09-02T00:00:00Z", "shipper": s, "consignee": b,
                     "signed_by": "gate"},
        "invoice": {"kind": "invoice", "number": f"INV-{tag}", "seller": s, "buyer": b,
                    "order_number": f"PO-{tag}", "amount": amount, "tax": 0,
                    "issue_date": "2026-09-03"},
    }


def make_cast(world: World, credit_limit: int) -> dict[str, Any]:
    """A debtor (with `credit_limit`), two suppliers, a bank, an anchorer and an auditor: role ->
    (name, API client)."""
    names = {}
    for role, prefix, funds in (("debtor", "core", 10**9), ("supplier", "sup", 0),
                                ("supplier", "sup", 0), ("financier", "bank", 10**9),
                                ("anchorer", "log", 0), ("auditor", "aud", 0)):
        name, api = world.participant(prefix, [role], funds)
        names.setdefault(prefix, []).append((name, api))
    core = names["core"][0]
    r = world.operator.post(f"/participants/{core[0]}/credit-limit",
                            {"limit": str(credit_limit)})
    assert r.status_code == 200, r.text
    return {"core": core, "a": names["sup"][0], "b": names["sup"][1], "bank": names["bank"][0],
            "log": names["log"][0], "aud": names["aud"][0]}


@pytest.fixture(scope="module")
def cast(world: World) -> dict[str, Any]:
    return make_cast(world, 10**10)


def _receivable(world: World, cast: dict[str, Any], face: int = 500_000) -> tuple[int, int]:
    (core, core_api), (a, a_api) = cast["core"], cast["a"]
    tag = uuid.uuid4().hex[:8]
    docs = _trade(world, core, a, tag)
    ids = {}
    for kind, doc in docs.items():
        r = a_api.post("/evidence/documents", doc)
        assert r.status_code == 201, r.text
        ids[kind] = r.json()["doc_id"]
    assert cast["log"][1].post("/evidence/batches").status_code == 201
    now = world.platform.chain.now()
    r = a_api.post("/receivables", {"debtor": core, "face_value": str(face),
                                    "maturity": now + 60 * DAY, "invoice_doc_id": ids["invoice"],
                                    "order_doc_id": ids["order"],
                                    "delivery_doc_id": ids["delivery"]})
    assert r.status_code == 201, r.text
    slot = int(r.json()["slot"])
    r = core_api.post(f"/receivables/{slot}/confirm")
    assert r.status_code == 200, r.text
    return slot, int(r.json()["token_id"])


def _problem(r: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["status"] == status and body["type"].endswith(body["code"])
    if code:
        assert body["code"] == code, body
    return body


# -- auth ------------------------------------------------------------------------------------------------
def test_requests_without_or_with_bad_keys_are_401(world: World) -> None:
    _problem(world.client.get("/participants/me"), 401, "unauthorized")
    _problem(Api(world.client, "scf_nothere_secret").get("/participants/me"), 401)
    _problem(Api(world.client, "garbage").get("/receivables"), 401)
    key = world.operator.key or ""
    _problem(Api(world.client, key[:-2] + "xx").get("/participants/me"), 401)
    assert world.operator.get("/participants/me").json()["name"] == "operator"


def test_api_keys_are_stored_hashed(world: World, cast: dict[str, Any]) -> None:
    from scf_chain.db.models import ApiKey

    with world.platform.sessions() as s:
        rows = s.query(ApiKey).all()
    secrets = [api.key.split("_", 2)[2] for _, api in cast.values()]  # type: ignore[union-attr]
    stored = " ".join(r.secret_hash for r in rows)
    assert rows and not any(sec in stored for sec in secrets)


def test_a_participant_switches_api_keys_and_revokes_the_old_one(world: World,
                                                                  cast: dict[str, Any]) -> None:
    name, old_api = world.participant("keys", ["supplier"])
    r = old_api.post(f"/participants/{name}/api-keys")
    assert r.status_code == 201, r.text
    new_api = Api(world.client, r.json()["api_key"])
    old_id = (old_api.key or "").split("_")[1]
    listed = new_api.get(f"/participants/{name}/api-keys").json()
    assert [k["key_id"] for k in listed][0] == old_id and len(listed) == 2
    assert all("secret" not in str(k) and k["revoked_at"] is None for k in listed)
    _problem(cast["b"][1].get(f"/participants/{name}/api-keys"), 403, "forbidden")
    _problem(cast["b"][1].delete(f"/participants/{name}/api-keys/{old_id}"), 403, "forbidden")
    _problem(new_api.delete(f"/participants/{name}/api-keys/nosuchkey"), 404)
    other_id = (cast["b"][1].key or "").split("_")[1]  # someone else's key is not found here
    _problem(new_api.delete(f"/participants/{name}/api-keys/{other_id}"), 404)

    r = new_api.delete(f"/participants/{name}/api-keys/{old_id}")
    assert r.status_code == 200 and r.json()["revoked_at"] is not None, r.text
    _problem(old_api.get("/participants/me"), 401, "unauthorized")  # at once
    again = new_api.delete(f"/participants/{name}/api-keys/{old_id}")
    assert again.status_code == 200 and again.json()["revoked_at"] == r.json()["revoked_at"]
    assert new_api.get("/participants/me").json()["name"] == name
    assert len(world.operator.get(f"/participants/{name}/api-keys").json()) == 2


def test_only_the_operator_registers_participants(world: World, cast: dict[str, Any]) -> None:
    body = {"name": "intruder", "display_name": "X", "roles": ["supplier"]}
    _problem(cast["a"][1].post("/participants", body), 403, "forbidden")
    _problem(cast["aud"][1].post("/participants", body), 403, "auditor_read_only")
    _problem(world.operator.post("/participants", {**body, "roles": ["operator"]}), 422,
             "validation_error")
    _problem(world.operator.post("/participants", {**body, "name": "Bad Name"}), 422)
    _problem(world.operator.post("/participants", {**body, "name": cast["a"][0]}), 409,
             "participant_exists")


def test_only_the_debtor_confirms_and_only_holders_move_value(world: World,
                                                              cast: dict[str, Any]) -> None:
    slot, token = _receivable(world, cast)
    (b, b_api), (a, a_api) = cast["b"], cast["a"]
    body = _problem(b_api.post(f"/tokens/{token}/split", {"to": b, "value": "1"}), 403)
    assert body["revert"]["error"] == "InsufficientAllowance"
    _problem(cast["aud"][1].post(f"/tokens/{token}/split", {"to": b, "value": "1"}), 403,
             "auditor_read_only")
    _problem(cast["bank"][1].post(f"/receivables/{slot}/confirm"), 403, "forbidden")
    moved = a_api.post(f"/tokens/{token}/split", {"to": b, "value": "100000"})
    assert moved.status_code == 201, moved.text
    new = moved.json()["token_id"]
    assert b_api.get(f"/tokens/{new}").json()["value"] == "100000"
    _problem(b_api.get(f"/tokens/{token}"), 404)  # A's holding (docs/visibility.md)
    _problem(cast["bank"][1].get(f"/tokens/{token}"), 404)  # not a party: invisible
    _problem(cast["bank"][1].get(f"/receivables/{slot}"), 404)
    assert cast["aud"][1].get(f"/receivables/{slot}").status_code == 200
    mine = b_api.get("/tokens").json()
    assert [t["token_id"] for t in mine["items"]] == [new] and mine["total"] == 1
    r = b_api.post(f"/tokens/{new}/transfer", {"to": a})
    assert r.status_code == 200 and a_api.get(f"/tokens/{new}").json()["owner"] == world.address(a)
    r = a_api.post(f"/tokens/{new}/merge", {"into_token_id": str(token), "value": "100000"})
    assert r.status_code == 200, r.text
    assert a_api.get(f"/tokens/{token}").json()["value"] == "500000"


# -- idempotency ----------------------------------------------------------------------------------------
def test_a_retried_post_never_moves_value_twice(world: World, cast: dict[str, Any]) -> None:
    slot, token = _receivable(world, cast)
    (b, _), (_, a_api) = cast["b"], cast["a"]
    key = str(uuid.uuid4())
    first = a_api.post(f"/tokens/{token}/split", {"to": b, "value": "1000"}, idem=key)
    again = a_api.post(f"/tokens/{token}/split", {"to": b, "value": "1000"}, idem=key)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json() and again.headers["Idempotent-Replayed"] == "true"
    assert a_api.get(f"/tokens/{token}").json()["value"] == str(500_000 - 1000)
    _problem(a_api.post(f"/tokens/{token}/split", {"to": b, "value": "2000"}, idem=key), 422,
             "idempotency_key_reused")
    r = world.client.post(f"/tokens/{token}/split", json={"to": b, "value": "1"},
                          headers={"Authorization": f"Bearer {a_api.key}"})
    _problem(r, 400, "idempotency_key_missing")


def test_a_retried_repayment_pays_once(world: World, cast: dict[str, Any]) -> None:
    slot, _ = _receivable(world, cast)
    core_api = cast["core"][1]
    key = str(uuid.uuid4())
    for _ in range(3):
        r = core_api.post(f"/receivables/{slot}/repayments", {"amount": "1234"}, idem=key)
        assert r.status_code == 200 and r.json()["total_repaid"] == "1234"
    st = core_api.get(f"/receivables/{slot}/settlement").json()
    assert st["repaid"] == "1234" and st["outstanding"] == str(500_000 - 1234)


def test_a_refused_post_is_replayed_as_the_same_problem(world: World, cast: dict[str, Any]) -> None:
    slot, token = _receivable(world, cast)
    a_api = cast["a"][1]
    key = str(uuid.uuid4())
    body = {"to": cast["b"][0], "value": str(10**7)}
    first = _problem(a_api.post(f"/tokens/{token}/split", body, idem=key), 422)
    assert first["revert"]["error"] == "InsufficientValue"
    second = a_api.post(f"/tokens/{token}/split", body, idem=key)
    assert second.json() == first and second.headers["Idempotent-Replayed"] == "true"


# -- financing and settlement ------------------------------------------------------------------------------
def test_offer_accept_cancel_and_listing(world: World, cast: dict[str, Any]) -> None:
    slot, token = _receivable(world, cast)
    (bank, bank_api), (_, a_api) = cast["bank"], cast["a"]
    now = world.platform.chain.now()
    offer = a_api.post("/offers", {"token_id": str(token), "value": "100000", "financier": bank,
                                   "price": "98000", "expiry": now + DAY,
                                   "registration_ref": "ZDDJ-1"})
    assert offer.status_code == 201, offer.text
    oid = offer.json()["offer_id"]
    assert offer.json()["status"] == "open"
    _problem(cast["b"][1].post(f"/offers/{oid}/accept"), 403, "forbidden")
    r = bank_api.post(f"/offers/{oid}/accept")
    assert r.status_code == 200, r.text
    assert r.json()["price"] == "98000"
    assert bank_api.get(f"/offers/{oid}").json()["status"] == "accepted"
    _problem(bank_api.post(f"/offers/{oid}/accept"), 409)
    second = a_api.post("/offers", {"token_id": str(token), "value": "1000", "financier": bank,
                                    "price": "900", "expiry": now + DAY}).json()
    r = a_api.post(f"/offers/{second['offer_id']}/cancel")
    assert r.status_code == 200 and r.json()["returned_to_token_id"] == str(token)
    listed = bank_api.get("/offers", params={"status": "accepted"}).json()
    assert oid in [o["offer_id"] for o in listed["items"]]
    _problem(cast["b"][1].get(f"/offers/{oid}"), 404)


def test_repay_collect_and_redeem_through_http(world: World, cast: dict[str, Any]) -> None:
    slot, token = _receivable(world, cast, face=300_000)
    core_api, (b, _), a_api = cast["core"][1], cast["b"], cast["a"][1]
    a_api.post(f"/tokens/{token}/split", {"to": b, "value": "100000"})
    _problem(a_api.post(f"/receivables/{slot}/repayments", {"amount": "1"}), 403)
    _problem(core_api.post(f"/receivables/{slot}/repayments", {"amount": "300001"}), 422)
    assert core_api.post(f"/receivables/{slot}/repayments", {"amount": "150000"}).status_code == 200
    _problem(a_api.post(f"/receivables/{slot}/redeem"), 409)  # not matured yet
    assert core_api.post(f"/receivables/{slot}/collection", {"enabled": True}).status_code == 200
    world.operator.post("/dev/time-travel", {"seconds": 61 * DAY})
    red = a_api.post(f"/receivables/{slot}/redeem")
    assert red.status_code == 200, red.text
    assert red.json()["amount"] == "150000"
    st = a_api.get(f"/receivables/{slot}/settlement").json()
    assert st["paid_out"] == "150000" and {h["due"] for h in st["holdings"]} == {"0"}


# -- evidence --------------------------------------------------------------------------------------------
def test_evidence_proof_disclose_verify_and_tamper(world: World, cast: dict[str, Any]) -> None:
    (core, _), (a, a_api) = cast["core"], cast["a"]
    docs = _trade(world, core, a, uuid.uuid4().hex[:8])
    doc_id = a_api.post("/evidence/documents", docs["invoice"]).json()["doc_id"]
    _problem(a_api.post("/evidence/documents", docs["invoice"]), 409, "document_exists")
    _problem(a_api.get(f"/evidence/documents/{doc_id}/proof"), 409, "document_not_anchored")
    _problem(a_api.post("/evidence/batches"), 403, "forbidden")
    assert cast["log"][1].post("/evidence/batches").status_code == 201
    bundle = a_api.get(f"/evidence/documents/{doc_id}/proof").json()
    assert a_api.post("/evidence/verify", bundle).json()["ok"] is True
    part = a_api.post(f"/evidence/documents/{doc_id}/disclosures", {"fields": ["amount"]}).json()
    result = cast["aud"][1].post("/evidence/verify", part).json()
    assert result["ok"] and result["disclosed"] == {"amount": 1_000_000}
    part["disclosure"]["disclosed"]["amount"]["value"] = 2_000_000
    bad = cast["aud"][1].post("/evidence/verify", part).json()
    assert bad["ok"] is False and "'amount'" in bad["reason"]
    _problem(cast["bank"][1].get(f"/evidence/documents/{doc_id}/content"), 404,
             "document_not_found")  # not a party: as if it did not exist
    assert cast["aud"][1].get(f"/evidence/documents/{doc_id}/content").status_code == 200
    outsider = {**docs["order"], "buyer": world.address(cast["bank"][0]), "number": "PO-zz"}
    _problem(a_api.post("/evidence/documents", {**outsider, "seller": world.address(core)}), 403,
             "not_a_party")


def test_application_needs_consistent_anchored_documents(world: World, cast: dict[str, Any]) -> None:
    (core, _), (a, a_api) = cast["core"], cast["a"]
    docs = _trade(world, core, a, uuid.uuid4().hex[:8])
    docs["delivery"]["timestamp"] = "2026-10-01T00:00:00Z"  # after the invoice date
    ids = {k: a_api.post("/evidence/documents", d).json()["doc_id"] for k, d in docs.items()}
    body = {"debtor": core, "face_value": "1000", "maturity": world.platform.chain.now() + DAY,
            "invoice_doc_id": ids["invoice"], "order_doc_id": ids["order"],
            "delivery_doc_id": ids["delivery"]}
    _problem(a_api.post("/receivables", body), 409, "document_not_anchored")
    cast["log"][1].post("/evidence/batches")
    _problem(a_api.post("/receivables", body), 422, "delivered_after_invoice")
    swapped = {**body, "invoice_doc_id": ids["order"], "order_doc_id": ids["invoice"]}
    _problem(a_api.post("/receivables", swapped), 422, "wrong_document_type")


# -- bad input --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("path,body", [
    ("/tokens/1/split", {"to": "nobody-here", "value": "1"}),
    ("/tokens/1/split", {"to": "0x" + "00" * 20, "value": "-1"}),
    ("/tokens/1/split", {"to": "x", "value": "1e3"}),
    ("/tokens/1/split", {"to": "x", "value": "1", "extra": 1}),
    ("/offers", {"token_id": "1", "value": "1", "financier": "x", "price": "1", "expiry": -1}),
    ("/receivables", {"debtor": "x"}),
    ("/evidence/documents", {"kind": "invoice", "number": "1"}),
    ("/evidence/documents", {"kind": "unknown"}),
])
def test_bad_input_is_a_422_problem(world: World, cast: dict[str, Any], path: str,
                                    body: dict[str, Any]) -> None:
    _problem(cast["a"][1].post(path, body), 422)


def test_unknown_ids_and_routes_are_404_problems(world: World, cast: dict[str, Any]) -> None:
    api = cast["aud"][1]
    _problem(api.get("/receivables/999999"), 404)
    _problem(api.get("/tokens/123"), 404)
    _problem(api.get("/offers/77"), 404)
    _problem(api.get("/nowhere"), 404)
    _problem(api.get("/audit/receivables/424242/trace"), 404)
    _problem(api.get("/tokens/abc"), 422)


def test_audit_routes_for_auditors_and_own_flows(world: World, cast: dict[str, Any]) -> None:
    slot, _ = _receivable(world, cast)
    aud, (a, a_api) = cast["aud"][1], cast["a"]
    trace = aud.get(f"/audit/receivables/{slot}/trace").json()
    assert trace["slot"] == str(slot) and trace["evidence"]["verified"] is True
    csv = aud.get(f"/audit/participants/{a}/flows", params={"format": "csv"})
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert a_api.get(f"/audit/participants/{a}/flows").status_code == 200
    _problem(a_api.get(f"/audit/participants/{cast['bank'][0]}/flows"), 403)
    _problem(a_api.get("/audit/reconcile"), 403)
    rec = aud.get("/audit/reconcile").json()
    assert rec["clean"], rec["differences"]
    listed = aud.get("/receivables", params={"status": "active", "limit": 2}).json()
    assert listed["limit"] == 2 and len(listed["items"]) <= 2 and listed["total"] >= 1


def test_a_participant_whose_registration_failed_midway_can_be_created_again(world: World) -> None:
    # a key left in the keystore by an attempt that failed on chain is reused, not refused
    address = world.platform.keys.create(world.platform.keys.participant("half-made"))
    r = world.operator.post("/participants", {"name": "half-made", "display_name": "H",
                                              "roles": ["supplier"]})
    assert r.status_code == 201, r.text
    assert r.json()["participant"]["address"] == address


# -- key rotation -------------------------------------------------------------------------------
def _chain_view(world: World, address: str, token: int) -> tuple[str, int, int]:
    p = world.platform
    op = p.token(p.operator_account)
    money = p.money(p.operator_account)
    return op.owner_of(token), int(op.roles_of(address)), money.balance_of(address)


def test_a_rotated_key_takes_over_roles_tokens_and_money(world: World,
                                                          cast: dict[str, Any]) -> None:
    slot, token = _receivable(world, cast)
    a_api, (b, _) = cast["a"][1], cast["b"]
    x, x_api = world.participant("rot", ["supplier"], funds=12_345)
    r = a_api.post(f"/tokens/{token}/split", {"to": x, "value": "70000"})
    assert r.status_code == 201, r.text
    part = int(r.json()["token_id"])
    old = world.address(x)

    _problem(a_api.post(f"/participants/{x}/rotate-key"), 403, "forbidden")
    r = world.operator.post(f"/participants/{x}/rotate-key")
    assert r.status_code == 200, r.text
    rot = r.json()
    new = rot["new_address"]
    assert rot["old_address"] == old and new != old and not rot["resumed"]
    assert [int(t) for t in rot["tokens_moved"]] == [part]
    assert {int(v) for v in rot["money_moved"].values()} == {12_345}
    assert world.address(x) == new
    # on chain: the new address owns the part, holds the money and the supplier role; the old
    # address holds nothing and has no role (value and money only changed hands)
    owner, new_roles, new_money = _chain_view(world, new, part)
    assert (owner.lower(), new_money) == (new, 12_345)
    assert new_roles == int(world.platform.participant(x).roles) != 0
    assert _chain_view(world, old, part)[1:] == (0, 0)
    # the participant's API key still works, and its new key signs: it moves the part onward
    r = x_api.post(f"/tokens/{part}/split", {"to": b, "value": "10000"})
    assert r.status_code == 201, r.text
    assert x_api.get("/participants/me").json()["address"] == new
    # its token is listed under the new address
    r = x_api.get(f"/tokens/{part}")
    assert r.status_code == 200 and r.json()["owner"].lower() == new.lower(), r.text


def test_rotation_is_refused_while_something_cannot_move(world: World,
                                                         cast: dict[str, Any]) -> None:
    # a holder with an open offer: the escrowed value would come back to the old address
    x, x_api = world.participant("offering", ["supplier"])
    slot, token = _receivable(world, cast)
    part = int(cast["a"][1].post(f"/tokens/{token}/split", {"to": x, "value": "5000"})
               .json()["token_id"])
    offer = x_api.post("/offers", {"token_id": str(part), "value": "5000",
                                   "financier": cast["bank"][0], "price": "4900",
                                   "expiry": world.platform.chain.now() + DAY})
    assert offer.status_code == 201, offer.text
    body = _problem(world.operator.post(f"/participants/{x}/rotate-key"), 409, "rotation_blocked")
    assert "open financing offers" in body["detail"]
    assert x_api.post(f"/offers/{offer.json()['offer_id']}/cancel").status_code == 200
    r = world.operator.post(f"/participants/{x}/rotate-key")
    assert r.status_code == 200, r.text  # once the offer is cancelled, the key rotates
    _problem(world.operator.post("/participants/nobody/rotate-key"), 404)


def test_a_rotation_cut_off_midway_is_finished_by_calling_again(
        world: World, cast: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    from scf_chain.clients.contracts import ReceivableTokenClient
    from scf_chain.errors import ChainError

    slot, token = _receivable(world, cast)
    a_api = cast["a"][1]
    x, _ = world.participant("cut", ["supplier"], funds=500)
    parts = []
    for _ in range(2):
        r = a_api.post(f"/tokens/{token}/split", {"to": x, "value": "1000"})
        assert r.status_code == 201, r.text
        parts.append(int(r.json()["token_id"]))
    old = world.address(x)
    real = ReceivableTokenClient.transfer
    calls = {"n": 0}

    def node_dies_after_one_move(self: Any, token_id: int, to: str) -> Any:
        calls["n"] += 1
        if calls["n"] > 1:
            raise ChainError("connection to the node lost")
        return real(self, token_id, to)

    monkeypatch.setattr(ReceivableTokenClient, "transfer", node_dies_after_one_move)
    key = str(uuid.uuid4())
    r = world.operator.post(f"/participants/{x}/rotate-key", idem=key)
    # transactions were sent: never answered as a failure, the key stays claimed
    assert len(_problem(r, 503, "outcome_pending")["tx_hashes"]) >= 3
    assert world.address(x) == old  # the row keeps the old address until the end
    monkeypatch.setattr(ReceivableTokenClient, "transfer", real)
    r = world.operator.post(f"/participants/{x}/rotate-key", idem=key)  # retried: finished
    assert r.status_code == 200, r.text
    rot = r.json()
    assert rot["resumed"] and rot["old_address"] == old
    new = rot["new_address"]
    op = world.platform.token(world.platform.operator_account)
    assert {op.owner_of(t).lower() for t in parts} == {new}
    assert world.platform.money(world.platform.operator_account).balance_of(new) == 500
    assert int(op.roles_of(old)) == 0


def test_a_rotation_waits_for_a_payment_of_its_account(world: World,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import threading
    import time

    x, _ = world.participant("rotlock", ["supplier"], funds=300)
    old = world.address(x)
    key_name = world.platform.participant(x).key_name
    locks = world.platform.account_locks
    waiting = threading.Event()
    original = locks._thread_lock

    def spying(account: str) -> threading.Lock:
        lock = original(account)
        if account.lower() == old and lock.locked():
            waiting.set()
        return lock

    monkeypatch.setattr(locks, "_thread_lock", spying)
    answer: dict[str, Any] = {}

    def rotate() -> None:
        answer["r"] = world.operator.post(f"/participants/{x}/rotate-key")

    with locks.hold(old):  # a repayment or accept of x between its balance read and its receipt
        t = threading.Thread(target=rotate)
        t.start()
        deadline = time.monotonic() + 120
        while not waiting.is_set() and t.is_alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        # the rotation waits for the payment: no new key, nothing moved yet
        assert waiting.is_set() and t.is_alive()
        assert world.platform.keys.address_of(key_name).lower() == old
        assert world.platform.money(world.platform.operator_account).balance_of(old) == 300
    t.join(180)
    assert answer["r"].status_code == 200, answer["r"].text
    new = answer["r"].json()["new_address"]
    assert world.platform.money(world.platform.operator_account).balance_of(new) == 300


def test_a_payment_that_waited_for_a_rotation_pays_with_the_new_key(
        world: World, cast: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    import threading
    import time

    slot, _ = _receivable(world, cast)
    x, x_api = world.participant("rotpay", ["debtor"], funds=1_000)  # owes nothing: may rotate
    old = world.address(x)
    p = world.platform
    locks, keys = p.account_locks, p.keys
    rotating, go, waiting = threading.Event(), threading.Event(), threading.Event()
    real_rotate, real_lock = keys.rotate, locks._thread_lock

    def held_rotate(name: str) -> Any:
        rotating.set()  # the rotation holds x's lock here, before the new key exists
        assert go.wait(120)
        return real_rotate(name)

    def spying(account: str) -> threading.Lock:
        lock = real_lock(account)
        if account.lower() == old and lock.locked() and rotating.is_set():
            waiting.set()
        return lock

    monkeypatch.setattr(keys, "rotate", held_rotate)
    monkeypatch.setattr(locks, "_thread_lock", spying)
    answers: dict[str, Any] = {}

    def call(name: str, fn: Any) -> threading.Thread:
        t = threading.Thread(target=lambda: answers.__setitem__(name, fn()))
        t.start()
        return t

    rotation = call("rotate", lambda: world.operator.post(f"/participants/{x}/rotate-key"))
    assert rotating.wait(120)
    payment = call("repay", lambda: x_api.post(f"/receivables/{slot}/repayments",
                                               {"amount": "100"}))
    deadline = time.monotonic() + 120
    while not waiting.is_set() and payment.is_alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert waiting.is_set(), answers.get("repay")  # the payment waits for the rotation
    go.set()
    rotation.join(180)
    payment.join(180)
    assert answers["rotate"].status_code == 200, answers["rotate"].text
    new = answers["rotate"].json()["new_address"]
    # the payment ran after the rotation, with the key that now holds x's money
    assert answers["repay"].status_code == 200, answers["repay"].text
    assert answers["repay"].json()["total_repaid"] == "100"
    money = p.money(p.operator_account)
    assert (money.balance_of(old), money.balance_of(new)) == (0, 900)
