"""A receivable's status as the contract's statusOf gives it (matured, overdue, settled derived
from chain time and payments), shown by GET /receivables[/{slot}] and filterable."""

from __future__ import annotations

import uuid

from hypothesis import given, settings
from hypothesis import strategies as st

from scf_chain.db.models import Receivable
from scf_chain.platform.operations import derived_status
from tests.api.conftest import Api, World

DAY = 86_400


def _receivable(world: World, core: str, core_api: Api, sup: str, sup_api: Api, log_api: Api,
                face: int) -> int:
    b, s, tag = world.address(core), world.address(sup), uuid.uuid4().hex[:8]
    docs = {
        "order": {"kind": "purchase_order", "number": f"PO-{tag}", "buyer": b, "seller": s,
                  "issue_date": "2026-09-01", "amount": face,
                  "lines": [{"sku": "X", "quantity": 1, "unit_price": face}]},
        "delivery": {"kind": "logistics", "waybill": f"W-{tag}", "carrier": "SF",
                     "order_number": f"PO-{tag}", "event": "delivered",
                     "timestamp": "2026-09-02T00:00:00Z", "shipper": s, "consignee": b,
                     "signed_by": "gate"},
        "invoice": {"kind": "invoice", "number": f"INV-{tag}", "seller": s, "buyer": b,
                    "order_number": f"PO-{tag}", "amount": face, "tax": 0,
                    "issue_date": "2026-09-03"}}
    ids = {}
    for kind, doc in docs.items():
        r = sup_api.post("/evidence/documents", doc)
        assert r.status_code == 201, r.text
        ids[kind] = r.json()["doc_id"]
    assert log_api.post("/evidence/batches").status_code == 201
    r = sup_api.post("/receivables", {
        "debtor": core, "face_value": str(face), "maturity": world.platform.chain.now() + 30 * DAY,
        "invoice_doc_id": ids["invoice"], "order_doc_id": ids["order"],
        "delivery_doc_id": ids["delivery"]})
    assert r.status_code == 201, r.text
    slot = int(r.json()["slot"])
    assert core_api.post(f"/receivables/{slot}/confirm").status_code == 200
    return slot


def _slots(api: Api, status: str) -> set[int]:
    r = api.get("/receivables", params={"status": status, "limit": 200})
    assert r.status_code == 200, r.text
    return {int(i["slot"]) for i in r.json()["items"]}


def test_derived_status_is_shown_and_filtered_as_the_contract_sees_it(world: World) -> None:
    core, core_api = world.participant("st-core", ["debtor"], 10**9)
    sup, sup_api = world.participant("st-sup", ["supplier"])
    _, log_api = world.participant("st-log", ["anchorer"])
    _, aud_api = world.participant("st-aud", ["auditor"])
    assert world.operator.post(f"/participants/{core}/credit-limit",
                               {"limit": str(10**8)}).status_code == 200
    repaid, unpaid = (_receivable(world, core, core_api, sup, sup_api, log_api, 50_000)
                      for _ in range(2))
    contract = world.platform.token(world.platform.operator_account)

    def shown(slot: int) -> str:
        r = aud_api.get(f"/receivables/{slot}")
        assert r.status_code == 200, r.text
        assert r.json()["status"] == contract.status_of(slot).name.lower()
        # the auditor's trace shows the same derived status, beside the stored one
        trace = aud_api.get(f"/audit/receivables/{slot}/trace").json()
        assert (trace["status"], trace["stored_status"]) == (r.json()["status"],
                                                             r.json()["stored_status"])
        return str(r.json()["status"])

    r = core_api.post(f"/receivables/{repaid}/repayments", {"amount": "50000"})
    assert r.status_code == 200, r.text
    assert shown(repaid) == shown(unpaid) == "active"
    assert {repaid, unpaid} <= _slots(aud_api, "active")

    assert world.operator.post("/dev/time-travel", {"seconds": 31 * DAY}).status_code == 200
    assert shown(repaid) == "matured" and shown(unpaid) == "overdue"
    assert sup_api.get(f"/receivables/{repaid}").json()["stored_status"] == "active"
    assert repaid in _slots(aud_api, "matured") and unpaid not in _slots(aud_api, "matured")
    assert unpaid in _slots(aud_api, "overdue") and repaid not in _slots(aud_api, "overdue")
    assert not {repaid, unpaid} & _slots(aud_api, "active")
    listed = {int(i["slot"]): i["status"] for i in sup_api.get(
        "/receivables", params={"limit": 200}).json()["items"]}
    assert listed[repaid] == "matured" and listed[unpaid] == "overdue"

    assert sup_api.post(f"/receivables/{repaid}/redeem").status_code == 200
    assert shown(repaid) == "settled"
    assert repaid in _slots(sup_api, "settled") and repaid not in _slots(sup_api, "matured")
    assert unpaid not in _slots(sup_api, "settled")
    assert aud_api.get("/receivables", params={"status": "paid"}).status_code == 422


@settings(max_examples=300, deadline=None)
@given(stored=st.sampled_from(["pending", "active", "rejected", "withdrawn"]),
       face=st.integers(1, 10**30), repaid_part=st.integers(0, 2), paid_part=st.integers(0, 2),
       maturity=st.integers(0, 10**6), now=st.integers(0, 10**6))
def test_derived_status_follows_status_of(stored: str, face: int, repaid_part: int,
                                          paid_part: int, maturity: int, now: int) -> None:
    # the contract's statusOf, written out: paid out <= repaid <= face value
    repaid = (0, face // 2, face)[repaid_part]
    paid_out = min((0, face // 2, face)[paid_part], repaid)
    r = Receivable(status=stored, face_value=face, repaid=repaid, paid_out=paid_out,
                   maturity=maturity)
    if stored != "active":
        want = stored
    elif paid_out == face:
        want = "settled"
    elif now < maturity:
        want = "active"
    else:
        want = "matured" if repaid == face else "overdue"
    assert derived_status(r, now) == want
