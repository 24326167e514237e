"""Parties inside evidence documents by participant name: resolved to addresses, unknown names refused."""

from __future__ import annotations

import uuid

from scf_chain.platform.evidence import (
    PARTY_FIELDS,
    InvoiceSubmission,
    LogisticsEventSubmission,
    PurchaseOrderSubmission,
)
from tests.api.conftest import World

DAY = 86_400


def _docs(buyer: str, seller: str, tag: str, face: int = 50_000) -> dict[str, dict[str, object]]:
    return {
        "order": {"kind": "purchase_order", "number": f"PO-{tag}", "buyer": buyer,
                  "seller": seller, "issue_date": "2026-09-01", "amount": face,
                  "lines": [{"sku": "X", "quantity": 1, "unit_price": face}]},
        "delivery": {"kind": "logistics", "waybill": f"W-{tag}", "carrier": "SF",
                     "order_number": f"PO-{tag}", "event": "delivered",
                     "timestamp": "2026-09-02T00:00:00Z", "shipper": seller, "consignee": buyer,
                     "signed_by": "gate"},
        "invoice": {"kind": "invoice", "number": f"INV-{tag}", "seller": seller, "buyer": buyer,
                    "order_number": f"PO-{tag}", "amount": face, "tax": 0,
                    "issue_date": "2026-09-03"}}


def test_every_address_field_of_every_document_takes_a_name() -> None:
    assert PARTY_FIELDS == {"purchase_order": ("buyer", "seller"),
                            "logistics": ("shipper", "consignee"), "invoice": ("seller", "buyer")}
    for cls in (PurchaseOrderSubmission, LogisticsEventSubmission, InvoiceSubmission):
        kind = cls.model_fields["kind"].default
        for field in PARTY_FIELDS[kind]:
            assert "participant's name" in (cls.model_fields[field].description or "")


def test_documents_by_name_are_stored_with_addresses_and_back_a_receivable(world: World) -> None:
    core, core_api = world.participant("nm-core", ["debtor"], 10**9)
    sup, sup_api = world.participant("nm-sup", ["supplier"])
    _, log_api = world.participant("nm-log", ["anchorer"])
    assert world.operator.post(f"/participants/{core}/credit-limit",
                               {"limit": str(10**8)}).status_code == 200
    tag = uuid.uuid4().hex[:8]
    ids = {}
    for kind, doc in _docs(core, sup, tag).items():  # names everywhere
        r = sup_api.post("/evidence/documents", doc)
        assert r.status_code == 201, r.text
        ids[kind] = r.json()["doc_id"]
    content = sup_api.get(f"/evidence/documents/{ids['order']}/content").json()
    fields = content["document"]
    assert fields["buyer"].lower() == world.address(core).lower()
    assert fields["seller"].lower() == world.address(sup).lower()
    # the same order by addresses is the same document (same key): already submitted
    again = _docs(world.address(core), world.address(sup), tag)["order"]
    dup = sup_api.post("/evidence/documents", again)
    assert dup.status_code == 409 and dup.json()["code"] == "document_exists"
    # the debtor (a party by name) reads it too
    assert core_api.get(f"/evidence/documents/{ids['order']}").status_code == 200
    assert log_api.post("/evidence/batches").status_code == 201
    r = sup_api.post("/receivables", {
        "debtor": core, "face_value": "50000", "maturity": world.platform.chain.now() + 30 * DAY,
        "invoice_doc_id": ids["invoice"], "order_doc_id": ids["order"],
        "delivery_doc_id": ids["delivery"]})
    assert r.status_code == 201, r.text


def test_an_unknown_name_or_a_malformed_party_is_refused_and_nothing_is_stored(
        world: World) -> None:
    core, _ = world.participant("nm2-core", ["debtor"])
    sup, sup_api = world.participant("nm2-sup", ["supplier"])
    tag = uuid.uuid4().hex[:8]
    order = _docs(core, "nobody-by-that-name", tag)["order"]
    r = sup_api.post("/evidence/documents", order)
    assert r.status_code == 422 and r.json()["code"] == "unknown_participant", r.text
    assert "seller" in r.json()["detail"] and "nobody-by-that-name" in r.json()["detail"]
    bad = sup_api.post("/evidence/documents", {**order, "seller": "Not A Name!"})
    assert bad.status_code == 422 and bad.json()["code"] != "unknown_participant"
    # nothing was stored: the corrected document is new
    ok = sup_api.post("/evidence/documents", {**order, "seller": sup})
    assert ok.status_code == 201, ok.text
