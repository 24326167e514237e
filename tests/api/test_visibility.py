"""Who sees what of a receivable through HTTP (docs/visibility.md): one test per role.

The receivable: CoreCo owes A 1,000,000; A splits 300,000 to B; A sells 200,000 to the bank for
196,000; CoreCo repays 100,000.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from scf_chain.audit import trace_receivable
from tests.api.conftest import Api, World
from tests.api.test_routes import _trade

pytestmark = pytest.mark.xdist_group(__name__)
DAY = 86_400
FACE, TO_B, FINANCED, PRICE = 1_000_000, 300_000, 200_000, 196_000


@dataclass
class Story:
    world: World
    apis: dict[str, Api]
    addr: dict[str, str]
    slot: int
    root: int
    b_token: int
    bank_token: int
    offer_id: int
    invoice_doc: str

    def get(self, who: str, path: str, status: int = 200) -> Any:
        r = self.apis[who].get(path)
        assert r.status_code == status, (who, path, r.text)
        return r.json()

    def trace(self, who: str) -> dict[str, Any]:
        return self.get(who, f"/audit/receivables/{self.slot}/trace")  # type: ignore[no-any-return]


def _ok(r: Any, status: int = 200) -> Any:
    assert r.status_code == status, r.text
    return r.json()


@pytest.fixture(scope="module")
def story(world: World) -> Story:
    apis: dict[str, Api] = {"operator": world.operator}
    addr: dict[str, str] = {}
    for short, role, funds in (("core", "debtor", 10**9), ("a", "supplier", 0),
                               ("b", "supplier", 0), ("bank", "financier", 10**9),
                               ("log", "anchorer", 0), ("aud", "auditor", 0),
                               ("x", "supplier", 0)):
        name, api = world.participant(f"vis-{short}", [role], funds)
        apis[short], addr[short] = api, world.address(name)
    _ok(world.operator.post(f"/participants/{world.platform.participant_by_address(addr['core']).name}"  # type: ignore[union-attr]
                            "/credit-limit", {"limit": str(10**10)}))
    docs = _trade(world, world.platform.participant_by_address(addr["core"]).name,  # type: ignore[union-attr]
                  world.platform.participant_by_address(addr["a"]).name,  # type: ignore[union-attr]
                  uuid.uuid4().hex[:8], amount=FACE)
    ids = {k: _ok(apis["a"].post("/evidence/documents", d), 201)["doc_id"] for k, d in docs.items()}
    _ok(apis["log"].post("/evidence/batches"), 201)
    now = world.platform.chain.now()
    slot = int(_ok(apis["a"].post("/receivables", {
        "debtor": addr["core"], "face_value": str(FACE), "maturity": now + 60 * DAY,
        "invoice_doc_id": ids["invoice"], "order_doc_id": ids["order"],
        "delivery_doc_id": ids["delivery"]}), 201)["slot"])
    root = int(_ok(apis["core"].post(f"/receivables/{slot}/confirm"))["token_id"])
    b_token = int(_ok(apis["a"].post(f"/tokens/{root}/split",
                                     {"to": addr["b"], "value": str(TO_B)}), 201)["token_id"])
    offer = _ok(apis["a"].post("/offers", {
        "token_id": str(root), "value": str(FINANCED), "financier": addr["bank"],
        "price": str(PRICE), "expiry": now + 10 * DAY, "registration_ref": "ZDDJ-vis"}), 201)
    bank_token = int(_ok(apis["bank"].post(f"/offers/{offer['offer_id']}/accept"))["token_id"])
    _ok(apis["core"].post(f"/receivables/{slot}/repayments", {"amount": "100000"}))
    return Story(world, apis, addr, slot, root, b_token, bank_token, int(offer["offer_id"]),
                 ids["invoice"])


def _lineage(trace: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {int(n["token_id"]): n for n in trace["lineage"]}


def _financing_leaks(text: str, story: Story) -> list[str]:
    """Financing terms found in a response: price, registration reference, the bank."""
    ref = story.get("aud", f"/offers/{story.offer_id}")["registration_ref"]
    return [t for t in (str(PRICE), ref.lower(), story.addr["bank"].lower()) if t in text.lower()]


def test_a_holder_by_split_sees_its_branch_and_no_financing_terms(story: Story) -> None:
    """Issue 10, item 6: B got 404 for the offer but the whole financing in the trace."""
    story.get("b", f"/offers/{story.offer_id}", 404)
    trace = story.trace("b")
    assert trace["financings"] == []
    nodes = _lineage(trace)
    assert set(nodes) == {story.root, story.b_token}  # the root, withheld, and its own token
    assert nodes[story.root]["state"] == "withheld" and nodes[story.root]["holder"] is None
    assert nodes[story.root]["value"] is None and nodes[story.root]["children"] == [
        str(story.b_token)]
    assert nodes[story.b_token]["holder"].lower() == story.addr["b"].lower()
    assert nodes[story.b_token]["value"] == str(TO_B)
    assert trace["current_holders"] == {story.addr["b"].lower(): str(TO_B)}
    assert trace["token_count"] == "2" and trace["redemptions"] == []
    assert [p["amount"] for p in trace["repayments"]] == ["100000"]
    assert trace["evidence"]["verified"] is True
    assert _financing_leaks(json.dumps(trace), story) == []
    settlement = story.get("b", f"/receivables/{story.slot}/settlement")
    assert [h["token_id"] for h in settlement["holdings"]] == [str(story.b_token)]
    assert settlement["repaid"] == "100000" and settlement["face_value"] == str(FACE)
    story.get("b", f"/tokens/{story.root}", 404)  # A's holding
    story.get("b", f"/tokens/{story.bank_token}", 404)  # the bank's
    assert story.get("b", f"/tokens/{story.b_token}")["value"] == str(TO_B)
    flows = story.get("b", f"/audit/participants/{story.addr['b']}/flows")
    assert flows["flows"] == []
    story.get("b", f"/audit/participants/{story.addr['a']}/flows", 403)
    story.get("b", f"/evidence/documents/{story.invoice_doc}", 404)  # not a party to it


def test_the_original_creditor_sees_its_own_financing_but_not_the_parts_it_passed_on(
        story: Story) -> None:
    trace = story.trace("a")
    (f,) = trace["financings"]
    assert (f["seller"], f["financier"]) == (story.addr["a"].lower(), story.addr["bank"].lower())
    assert (f["value"], f["price"]) == (str(FINANCED), str(PRICE))
    nodes = _lineage(trace)
    assert set(nodes) == {story.root} and nodes[story.root]["children"] == []
    assert nodes[story.root]["value"] == str(FACE - TO_B - FINANCED)
    assert trace["current_holders"] == {story.addr["a"].lower(): str(FACE - TO_B - FINANCED)}
    settlement = story.get("a", f"/receivables/{story.slot}/settlement")
    assert [h["token_id"] for h in settlement["holdings"]] == [str(story.root)]
    story.get("a", f"/tokens/{story.b_token}", 404)
    assert story.get("a", f"/evidence/documents/{story.invoice_doc}")["doc_id"] == story.invoice_doc


def test_the_financier_sees_the_part_it_bought_and_its_financing(story: Story) -> None:
    trace = story.trace("bank")
    (f,) = trace["financings"]
    assert f["price"] == str(PRICE) and f["implied_annual_rate"] is not None
    nodes = _lineage(trace)
    assert set(nodes) == {story.root, story.bank_token}
    assert nodes[story.root]["state"] == "withheld"
    assert nodes[story.bank_token]["value"] == str(FINANCED)
    settlement = story.get("bank", f"/receivables/{story.slot}/settlement")
    assert [h["token_id"] for h in settlement["holdings"]] == [str(story.bank_token)]
    flows = story.get("bank", f"/audit/participants/{story.addr['bank']}/flows")
    assert [r["kind"] for r in flows["flows"]] == ["financing"]
    story.get("bank", f"/evidence/documents/{story.invoice_doc}", 404)


def test_the_debtor_sees_every_holding_but_no_financing_terms(story: Story) -> None:
    trace = story.trace("core")
    assert trace["financings"] == []
    full = story.trace("aud")
    assert trace["lineage"] == full["lineage"]  # whom it owes, and how much
    assert trace["current_holders"] == full["current_holders"]
    assert len(trace["current_holders"]) == 3
    assert PRICE not in {int(r["amount"]) for r in trace["repayments"] + trace["redemptions"]}
    assert str(PRICE) not in json.dumps(trace)
    settlement = story.get("core", f"/receivables/{story.slot}/settlement")
    assert {int(h["token_id"]) for h in settlement["holdings"]} == {
        story.root, story.b_token, story.bank_token}
    assert story.get("core", f"/tokens/{story.b_token}")["value"] == str(TO_B)
    assert story.get("core", f"/evidence/documents/{story.invoice_doc}")["doc_id"]


@pytest.mark.parametrize("who", ["aud", "operator"])
def test_auditors_and_the_operator_see_the_whole_trace_unchanged(story: Story, who: str) -> None:
    from api.routes.audit import rate_ceiling
    from scf_chain.platform import evidence as evidence_ops

    platform = story.world.platform
    r = story.apis[who].get(f"/audit/receivables/{story.slot}/trace")
    assert r.status_code == 200
    with platform.sessions() as s:
        core = trace_receivable(s, story.slot, rate_ceiling=rate_ceiling(platform),
                                verifier=evidence_ops.verifier(platform)).to_json()
    assert r.text == core  # byte for byte what the core builds
    trace = r.json()
    assert len(trace["financings"]) == 1 and trace["token_count"] == "3"
    assert all(n["state"] != "withheld" for n in trace["lineage"])
    settlement = story.get(who, f"/receivables/{story.slot}/settlement")
    assert len(settlement["holdings"]) == 3
    assert story.get(who, f"/tokens/{story.root}")["token_id"] == str(story.root)
    assert story.get(who, f"/evidence/documents/{story.invoice_doc}")["doc_id"]


def test_an_unrelated_participant_is_not_told_the_receivable_exists(story: Story) -> None:
    for path in (f"/audit/receivables/{story.slot}/trace", f"/receivables/{story.slot}",
                 f"/receivables/{story.slot}/settlement", f"/tokens/{story.root}",
                 f"/tokens/{story.b_token}", f"/offers/{story.offer_id}",
                 f"/evidence/documents/{story.invoice_doc}"):
        body = story.get("x", path, 404)
        assert body["status"] == 404
    assert story.get("x", "/receivables")["total"] == 0
    story.get("x", f"/audit/participants/{story.addr['a']}/flows", 403)


def test_a_holder_that_triggers_redemption_is_told_only_its_own_payout(story: Story) -> None:
    """Runs last: it moves the shared chain past maturity."""
    _ok(story.apis["operator"].post("/dev/time-travel", {"seconds": 61 * DAY}))
    red = _ok(story.apis["b"].post(f"/receivables/{story.slot}/redeem"))
    assert red["amount"] == "100000"  # the call's total, the receivable's paid_out
    assert [(r["token_id"], r["amount"]) for r in red["redemptions"]] == [
        (str(story.b_token), str(TO_B // 10))]
    trace = story.trace("b")
    assert [p["amount"] for p in trace["redemptions"]] == [str(TO_B // 10)]
    assert len(story.trace("core")["redemptions"]) == 3
