"""The risk routes on the gateway: features and evidence from real documents, a fictitious trade
raised as an alert and resolved, visibility per role, metrics."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from scf_chain.platform import evidence as evidence_ops
from tests.api.conftest import Api, World, world  # noqa: F401  (fixture)
from tests.indexer.fixtures import _pg_database  # noqa: F401  (fixture)

DAY = 86_400


def _docs(w: World, buyer: str, seller: str, tag: str, delivered: str = "2026-09-02",
          amount: int = 1_000_000) -> dict[str, Any]:
    b, s = w.address(buyer), w.address(seller)
    return {
        "order": {"kind": "purchase_order", "number": f"PO-{tag}", "buyer": b, "seller": s,
                  "issue_date": "2026-09-01", "amount": amount,
                  "lines": [{"sku": "X", "quantity": 1, "unit_price": amount}]},
        "delivery": {"kind": "logistics", "waybill": f"W-{tag}", "carrier": "SF",
                     "order_number": f"PO-{tag}", "event": "delivered",
                     "timestamp": f"{delivered}T00:00:00Z", "shipper": s, "consignee": b,
                     "signed_by": "gate"},
        "invoice": {"kind": "invoice", "number": f"INV-{tag}", "seller": s, "buyer": b,
                    "order_number": f"PO-{tag}", "amount": amount, "tax": 0,
                    "issue_date": "2026-09-03"},
    }


def _submit(w: World, api: Api, anchorer: Api, docs: dict[str, Any]) -> dict[str, str]:
    ids = {}
    for kind, doc in docs.items():
        r = api.post("/evidence/documents", doc)
        assert r.status_code == 201, r.text
        ids[kind] = r.json()["doc_id"]
    assert anchorer.post("/evidence/batches").status_code == 201
    return ids


@pytest.fixture(scope="module")
def market(world: World) -> dict[str, Any]:  # noqa: F811
    names: dict[str, tuple[str, Api]] = {}
    for key, role, prefix, funds in (("core", "debtor", "core", 10**9), ("a", "supplier", "sup", 0),
                                     ("b", "supplier", "sup", 0), ("bank", "financier", "bank", 10**9),
                                     ("bank2", "financier", "bank", 10**9),
                                     ("log", "anchorer", "log", 0), ("aud", "auditor", "aud", 0)):
        names[key] = world.participant(prefix, [role], funds)
    core, core_api = names["core"]
    a, a_api = names["a"]
    r = world.operator.post(f"/participants/{core}/credit-limit", {"limit": str(10**10)})
    assert r.status_code == 200, r.text
    now = world.platform.chain.now()
    # a sound trade, confirmed, part of it offered to the bank
    ids = _submit(world, a_api, names["log"][1], _docs(world, core, a, uuid.uuid4().hex[:8]))
    r = a_api.post("/receivables", {"debtor": core, "face_value": "500000",
                                    "maturity": now + 60 * DAY, "invoice_doc_id": ids["invoice"],
                                    "order_doc_id": ids["order"], "delivery_doc_id": ids["delivery"]})
    assert r.status_code == 201, r.text
    good = int(r.json()["slot"])
    r = core_api.post(f"/receivables/{good}/confirm")
    assert r.status_code == 200, r.text
    token = r.json()["token_id"]
    r = a_api.post("/offers", {"token_id": token, "value": "100000", "financier": names["bank"][0],
                               "price": "99000", "expiry": now + 30 * DAY})
    assert r.status_code == 201, r.text
    # a fictitious one: delivered after the invoice, applied past the gateway's cross-check
    ids = _submit(world, a_api, names["log"][1],
                  _docs(world, core, a, uuid.uuid4().hex[:8], delivered="2026-09-20"))
    p = world.platform
    supplier = p.participant(a)
    inv_row, inv = evidence_ops.document(p, supplier, ids["invoice"], False)
    assert inv_row.batch_root is not None and inv_row.proof is not None
    applied = p.token(supplier).apply_for(
        p.participant(core).address, supplier.address, 300_000,
        p.manifest.settlement_tokens[0], now + 60 * DAY, inv.doc_key, inv.fields_root,
        bytes.fromhex(inv_row.batch_root[2:]), [bytes.fromhex(x[2:]) for x in inv_row.proof])
    bad = applied.slot
    assert core_api.post(f"/receivables/{bad}/confirm").status_code == 200
    return {**names, "good": good, "bad": bad}


def test_receivable_features_carry_the_evidence_check(market: dict[str, Any]) -> None:
    aud = market["aud"][1]
    r = aud.get(f"/risk/receivables/{market['good']}")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["evidence"]["consistency"] == "ok"
    assert body["features"]["evidence_complete"] == 1 and body["features"]["face_value"] == "500000"
    # the debtor scored by the shipped trade scorecard for debtors
    health = body["debtor_health"]
    assert health["scorecard"] == "debtor" and isinstance(health["score"], int)
    assert health["grade"] in "ABCDE" and 0 < health["pd"] < 1
    bad = aud.get(f"/risk/receivables/{market['bad']}").json()
    assert bad["evidence"]["consistency"] == "delivered_after_invoice"
    assert bad["features"]["evidence_consistent"] == 0


def test_participant_features_and_score(world: World, market: dict[str, Any]) -> None:  # noqa: F811
    a, a_api = market["a"]
    r = a_api.get(f"/risk/participants/{a}")
    assert r.status_code == 200, r.text
    body = r.json()
    f = body["features"]
    assert f["supplier_receivable_count"] == 2 and f["supplier_confirmed_face"] == "800000"
    assert f["supplier_orders"] == 2 and f["supplier_deliveries"] == 2
    assert f["supplier_invoices"] == 2
    # one of its two receivables fails the cross-check (delivered after the invoice)
    assert f["supplier_evidence_failures"] == 1 and f["supplier_evidence_failure_share"] == 0.5
    [trade] = body["trade"]
    assert trade["debtor"] == world.address(market["core"][0]).lower()
    assert body["scorecard"] == "supplier" and isinstance(body["score"], int)
    core = market["aud"][1].get(f"/risk/participants/{market['core'][0]}").json()
    assert core["features"]["debtor_confirmed_face"] == "800000"
    assert core["features"]["debtor_credit_limit"] == str(10**10)
    assert core["features"]["debtor_top_supplier_share"] == 1.0
    assert core["scorecard"] == "debtor"


def test_bank_sees_holder_and_debtor_scores_before_accepting(market: dict[str, Any]) -> None:
    """The bank an offer is made to reads, through the API alone, the holder's and the debtor's
    score, grade, PD and reasons in plain words, from the shipped trade scorecards."""
    bank = market["bank"][1]
    [offer] = bank.get("/offers", params={"status": "open"}).json()["items"]
    holder = offer["holder"]
    r = bank.get(f"/risk/receivables/{offer['slot']}")
    assert r.status_code == 200, r.text
    debtor = r.json()["debtor"]
    for who, card in ((holder, "supplier"), (debtor, "debtor")):
        r = bank.get(f"/risk/participants/{who}")
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["scorecard"] == card, body
        assert isinstance(body["score"], int) and body["grade"] in ("A", "B", "C", "D", "E")
        assert 0 < body["pd"] < 1 and body["model_version"].endswith(card)
        assert body["reasons"], body  # a young participant has adverse factors
        for reason in body["reasons"]:
            assert reason["points_lost"] > 0
            assert "points below the best" in reason["text_en"] and "分" in reason["text_zh"]
    assert offer["status"] == "open"  # all of it before accepting


def test_no_score_without_a_model(world: World, market: dict[str, Any]) -> None:  # noqa: F811
    from scf_chain.risk.service import service_for

    svc = service_for(world.platform)
    shipped = svc.model_file
    svc.model_file, svc._scorers = None, None  # SCF_RISK_DEFAULT_MODEL=false
    try:
        body = market["a"][1].get(f"/risk/participants/{market['a'][0]}").json()
        assert body["score"] is None and body["reason"] == "no model configured"
        assert body["features"]["supplier_receivable_count"] == 2
    finally:
        svc.model_file, svc._scorers = shipped, None


def test_visibility_per_role(market: dict[str, Any]) -> None:
    (a, a_api), (b, b_api) = market["a"], market["b"]
    core = market["core"][0]
    bank, bank2, aud = market["bank"][1], market["bank2"][1], market["aud"][1]
    good = market["good"]
    for api, who, status in ((aud, a, 200), (aud, core, 200), (a_api, a, 200), (a_api, core, 404),
                             (b_api, a, 404), (bank, a, 200), (bank, core, 200), (bank, b, 404),
                             (bank2, a, 404), (bank2, core, 404), (a_api, "nobody-here", 404)):
        r = api.get(f"/risk/participants/{who}")
        assert r.status_code == status, (who, r.text)
        if status == 404:
            assert r.headers["content-type"].startswith("application/problem+json")
            assert r.json()["code"] == "not_found"
    for api, status in ((aud, 200), (a_api, 200), (bank, 200), (bank2, 404), (b_api, 404)):
        assert api.get(f"/risk/receivables/{good}").status_code == status
    assert aud.get("/risk/receivables/999999").status_code == 404
    for api in (a_api, bank):
        r = api.get("/risk/alerts")
        assert r.status_code == 403 and r.json()["code"] == "forbidden"


def test_fictitious_trade_alert_is_listed_and_resolved(world: World,  # noqa: F811
                                                        market: dict[str, Any]) -> None:
    aud_name, aud = market["aud"]
    r = aud.get("/risk/alerts", params={"detector": "fictitious_trade"})
    assert r.status_code == 200, r.text
    page = r.json()
    [alert] = [x for x in page["items"] if x["slot"] == str(market["bad"])]
    assert alert["status"] == "open" and alert["details"]["code"] == "delivered_after_invoice"
    assert not [x for x in page["items"] if x["slot"] == str(market["good"])]
    assert aud.get("/risk/alerts", params={"slot": str(market["bad"]),
                                           "status": "open"}).json()["total"] == 1
    by_party = aud.get("/risk/alerts", params={"participant": market["a"][0]}).json()
    assert alert["id"] in [x["id"] for x in by_party["items"]]
    assert aud.get("/risk/alerts", params={"detector": "nope"}).status_code == 422

    path = f"/risk/alerts/{alert['id']}"
    key = str(uuid.uuid4())
    r = aud.post(f"{path}/acknowledge", {"reason": "asking the logistics provider"}, idem=key)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "acknowledged" and r.json()["updated_by"] == aud_name
    again = aud.post(f"{path}/acknowledge", {"reason": "asking the logistics provider"}, idem=key)
    assert again.status_code == 200 and again.headers.get("Idempotent-Replayed") == "true"
    r = aud.post(f"{path}/confirm", {"reason": "no goods moved before the invoice"})
    assert r.status_code == 200 and r.json()["status"] == "confirmed"
    assert [h["to"] for h in r.json()["history"]] == ["open", "acknowledged", "confirmed"]
    r = aud.post(f"{path}/dismiss", {"reason": "changed my mind"})
    assert r.status_code == 409 and r.json()["code"] == "alert_transition_invalid"
    assert aud.post("/risk/alerts/99999/confirm", {"reason": "x"}).status_code == 404
    assert aud.post(f"{path}/confirm", {"reason": ""}).status_code == 422
    r = world.client.post(f"{path}/confirm", json={"reason": "x"},
                          headers=aud.headers())  # no Idempotency-Key
    assert r.status_code == 400 and r.json()["code"] == "idempotency_key_missing"
    r = market["a"][1].post(f"{path}/dismiss", {"reason": "it is fine"})
    assert r.status_code == 403
    assert world.operator.post(f"{path}/dismiss", {"reason": "x"}).status_code == 409


def test_metrics_show_own_rows_to_participants(world: World,  # noqa: F811
                                               market: dict[str, Any]) -> None:
    aud, bank = market["aud"][1], market["bank"][1]
    offer = bank.get("/offers", params={"status": "open"}).json()["items"][0]
    assert bank.post(f"/offers/{offer['offer_id']}/accept").status_code == 200
    m = aud.get("/risk/metrics").json()
    assert m["platform"]["financings"] == 1 and m["platform"]["rate_ceiling"] == 0.12
    assert m["platform"]["financed_value"] == "100000"
    assert m["platform"]["financing_paid"] == "99000"
    [a] = [s for s in m["suppliers"] if s["address"] == world.address(market["a"][0]).lower()]
    # cash came by the financing, a while after the delivery document's date
    assert a["receivables_to_cash"] == 1 and a["days_delivery_to_cash"] > 0
    assert 0 < a["annual_financing_cost"] < 0.12
    debtors = {d["address"] for d in m["debtors"]}
    assert world.address(market["core"][0]).lower() in debtors
    mine = market["b"][1].get("/risk/metrics").json()
    assert mine["debtors"] == [] and mine["suppliers"] == []
    assert mine["platform"] == m["platform"]
