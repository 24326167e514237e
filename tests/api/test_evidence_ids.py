"""Evidence document identity: nobody takes another party's numbers; ids are no existence oracle."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.api.conftest import Api, World
from tests.api.test_routes import _trade

pytestmark = pytest.mark.xdist_group(__name__)


@pytest.fixture(scope="module")
def people(world: World) -> Iterator[dict[str, tuple[str, Api]]]:
    out = {}
    for short, role, funds in (("core", "debtor", 0), ("a", "supplier", 0), ("x", "supplier", 0),
                               ("sf", "anchorer", 0), ("rogue", "anchorer", 0),
                               ("aud", "auditor", 0)):
        out[short] = world.participant(f"ids-{short}", [role], funds)
    yield out
    # nothing left pending: the PostgreSQL store is shared by the session's gateways, and
    # another module's anchor would find documents whose files were in this one's folder
    r = out["sf"][1].post("/evidence/batches")
    assert r.status_code in (201, 409), r.text


def _post(api: Api, doc: dict[str, Any], status: int) -> dict[str, Any]:
    r = api.post("/evidence/documents", doc)
    assert r.status_code == status, r.text
    return r.json()  # type: ignore[no-any-return]


def test_a_supplier_cannot_take_the_buyers_next_order_number(world: World, people: Any) -> None:
    """Issue 10, item 8: X submitted a PO with CoreCo's next number; CoreCo's real one got 409."""
    (core, core_api), (a, _), (x, x_api) = people["core"], people["a"], people["x"]
    number = f"PO-{uuid.uuid4().hex[:8]}"
    squat = {**_trade(world, core, x, "s")["order"], "number": number}
    real = {**_trade(world, core, a, "r")["order"], "number": number}
    squatted = _post(x_api, squat, 201)  # X's own copy, in X's own space
    mine = _post(core_api, real, 201)  # CoreCo's order is CoreCo's
    assert mine["doc_id"] != squatted["doc_id"] and mine["owner"] != squatted["owner"]
    assert _post(core_api, real, 409)["code"] == "document_exists"  # its own twice: still once
    assert x_api.get(f"/evidence/documents/{mine['doc_id']}").status_code == 404


def test_only_the_seller_submits_its_invoice(world: World, people: Any) -> None:
    (core, _), (a, a_api), (x, x_api) = people["core"], people["a"], people["x"]
    tag = uuid.uuid4().hex[:8]
    # X names itself as buyer of an invoice in A's numbering
    forged = {**_trade(world, x, a, tag)["invoice"]}
    body = _post(x_api, forged, 403)
    assert body["code"] == "not_the_issuer"
    real = _trade(world, core, a, tag)["invoice"]
    assert _post(a_api, real, 201)["doc_id"].startswith("doc-")


def test_a_free_text_carrier_name_does_not_own_a_waybill(world: World, people: Any) -> None:
    (core, _), (a, _), (_sf, sf_api), (_r, rogue_api) = (people["core"], people["a"],
                                                          people["sf"], people["rogue"])
    event = _trade(world, core, a, uuid.uuid4().hex[:8])["delivery"]
    event = {**event, "carrier": "SF Express"}
    fake = _post(rogue_api, event, 201)
    real = _post(sf_api, event, 201)  # the same carrier name and waybill: still SF's to submit
    assert fake["doc_id"] != real["doc_id"] and fake["doc_key"] != real["doc_key"]


@pytest.mark.parametrize("suffix,method,body", [
    ("", "get", None), ("/content", "get", None), ("/proof", "get", None),
    ("/disclosures", "post", {"fields": ["amount"]}),
])
def test_an_unreadable_document_is_answered_as_a_missing_one(world: World, people: Any,
                                                             suffix: str, method: str,
                                                             body: Any) -> None:
    (core, _), (a, a_api), (_x, x_api) = people["core"], people["a"], people["x"]
    doc_id = _post(a_api, _trade(world, core, a, uuid.uuid4().hex[:8])["invoice"], 201)["doc_id"]
    missing = "doc-" + "0" * 24

    def ask(i: str) -> Any:
        path = f"/evidence/documents/{i}{suffix}"
        return x_api.get(path) if method == "get" else x_api.post(path, body)

    exists, absent = ask(doc_id), ask(missing)
    assert exists.status_code == absent.status_code == 404
    assert exists.headers["content-type"] == absent.headers["content-type"]
    assert exists.json() == {k: (v.replace(missing, doc_id) if isinstance(v, str) else v)
                             for k, v in absent.json().items()}
    assert exists.json()["code"] == "document_not_found"
    assert people["aud"][1].get(f"/evidence/documents/{doc_id}").status_code == 200
