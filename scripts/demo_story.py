"""The demo story as an HTTP client tells it: evidence → confirm → split → finance → maturity → paid.

A client of the gateway, not part of it: used by `scripts/demo.py` (README's demo) and by
tests/test_demo_story.py, against any running gateway whose chain can move time (embedded or anvil).
"""

from __future__ import annotations

import secrets
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scf_chain.sdk import Gateway, KeyFileSigner, Prepared, new_key_file

CENTS = 100
DAY = 86_400


class StoryError(RuntimeError):
    """A step of the story got an answer it should not have."""


def yuan(units: int | str) -> str:
    return f"{int(units) / CENTS:,.2f}"


@dataclass
class Story:
    slot: int = 0
    tokens: dict[str, int] = field(default_factory=dict)
    parties: dict[str, str] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)
    trace: dict[str, Any] = field(default_factory=dict)
    flows: list[dict[str, Any]] = field(default_factory=list)
    reconcile: dict[str, Any] = field(default_factory=dict)
    paid: dict[str, int] = field(default_factory=dict)


def run_story(http: Any, operator_key: str, say: Callable[[str], None] = print,
              tag: str | None = None, settle_timeout_s: float = 60.0) -> Story:
    """Drive the whole story through `http` (an httpx.Client or a FastAPI TestClient)."""
    tag = tag or uuid.uuid4().hex[:6]
    st = Story()

    def call(method: str, path: str, key: str, body: Any = None, expect: int = 200) -> Any:
        headers = {"Authorization": f"Bearer {key}"}
        if method == "POST":
            headers["Idempotency-Key"] = str(uuid.uuid4())
        r = http.request(method, path, json=body, headers=headers)
        if r.status_code != expect:
            raise StoryError(f"{method} {path} -> {r.status_code}: {r.text}")
        return r.json() if "json" in r.headers.get("content-type", "") else r.text

    say("== 1. The operator registers the participants")
    # the bank holds its own key (custody: external): a key file on the bank's side, only its
    # address given to the platform; it signs through scf_chain.sdk
    bank_dir = tempfile.TemporaryDirectory(prefix="scf-bank-")
    bank_keyfile, bank_password = Path(bank_dir.name) / "bank.json", secrets.token_hex(8)
    bank_address = new_key_file(bank_keyfile, bank_password, iterations=2**14)
    people = {"core": ("CoreCo (core enterprise)", ["debtor"], 5_000_000_00),
              "supplier-a": ("Supplier A", ["supplier"], 0),
              "supplier-b": ("Supplier B", ["supplier"], 0),
              "supplier-c": ("Supplier C", ["supplier"], 0),
              "bank": ("Bank", ["financier"], 5_000_000_00),
              "logistics": ("SF Logistics", ["anchorer"], 0),
              "auditor": ("Auditor", ["auditor"], 0)}
    for short, (display, roles, funds) in people.items():
        name = f"{short}-{tag}"
        own = {"custody": "external", "address": bank_address} if short == "bank" else {}
        out = call("POST", "/participants", operator_key,
                   {"name": name, "display_name": display, "roles": roles, "dev_funds": str(funds),
                    **own}, 201)
        st.parties[short] = out["participant"]["address"]
        st.keys[short] = out["api_key"]
        say(f"   {display:<26} {out['participant']['address']}  roles {', '.join(roles)}"
            + ("  (signs with its own key)" if own else ""))
    k, p = st.keys, st.parties
    call("POST", f"/participants/core-{tag}/credit-limit", operator_key, {"limit": "500000000"})
    say("   CoreCo's credit limit: 5,000,000.00")

    say("== 2. Evidence: the order, its delivery and the invoice, anchored as one batch")
    number = f"{tag}"
    order = {"kind": "purchase_order", "number": f"PO-{number}", "buyer": p["core"],
             "seller": p["supplier-a"], "currency": "CNY", "issue_date": "2026-09-01",
             "lines": [{"sku": "STEEL-COIL", "description": "cold-rolled coil", "quantity": 200,
                        "unit_price": 6_000_00}], "amount": 1_200_000_00}
    delivery = {"kind": "logistics", "waybill": f"SF-{number}", "carrier": "SF Express",
                "order_number": f"PO-{number}", "event": "delivered",
                "timestamp": "2026-09-20T08:00:00+08:00", "location": "Shanghai",
                "shipper": p["supplier-a"], "consignee": p["core"], "signed_by": "Warehouse 3"}
    invoice = {"kind": "invoice", "number": f"INV-{number}", "seller": p["supplier-a"],
               "buyer": p["core"], "order_number": f"PO-{number}", "currency": "CNY",
               "amount": 1_000_000_00, "tax": 130_000_00, "issue_date": "2026-09-25"}
    doc_ids = {}
    for who, doc in (("core", order), ("logistics", delivery), ("supplier-a", invoice)):
        doc_ids[doc["kind"]] = call("POST", "/evidence/documents", k[who], doc, 201)["doc_id"]
    batch = call("POST", "/evidence/batches", k["logistics"], None, 201)
    say(f"   root {batch['root']} anchors {batch['count']} documents (tx {batch['tx']['tx_hash'][:18]}…)")

    say("== 3. Supplier A applies; CoreCo confirms 1,000,000.00")
    now = int(call("GET", "/health", k["auditor"])["head_time"])
    applied = call("POST", "/receivables", k["supplier-a"], {
        "debtor": p["core"], "face_value": "100000000", "maturity": now + 90 * DAY,
        "invoice_doc_id": doc_ids["invoice"], "order_doc_id": doc_ids["purchase_order"],
        "delivery_doc_id": doc_ids["logistics"]}, 201)
    st.slot = int(applied["slot"])
    confirmed = call("POST", f"/receivables/{st.slot}/confirm", k["core"])
    st.tokens["a"] = int(confirmed["token_id"])
    say(f"   receivable {st.slot}: token {st.tokens['a']} holds {yuan(confirmed['face_value'])}")

    say("== 4. A splits 300,000 to B; B splits 100,000 to C")
    st.tokens["b"] = int(call("POST", f"/tokens/{st.tokens['a']}/split", k["supplier-a"],
                              {"to": p["supplier-b"], "value": "30000000"}, 201)["token_id"])
    st.tokens["c"] = int(call("POST", f"/tokens/{st.tokens['b']}/split", k["supplier-b"],
                              {"to": p["supplier-c"], "value": "10000000"}, 201)["token_id"])

    say("== 5. A finances 200,000 with the bank at a discount (delivery versus payment)")
    offer = call("POST", "/offers", k["supplier-a"], {
        "token_id": str(st.tokens["a"]), "value": "20000000", "financier": p["bank"],
        "price": "19600000", "expiry": now + 10 * DAY,
        "registration_ref": f"ZDDJ-{number}"}, 201)
    signed: list[Prepared] = []

    def review(step: Prepared) -> bool:  # where a bank's own approval would run
        signed.append(step)
        return step.transaction["from"].lower() == bank_address.lower()

    bank = Gateway("", k["bank"], KeyFileSigner(bank_keyfile, bank_password), http=http,
                   review=review)
    financed = bank.post(f"/offers/{offer['offer_id']}/accept")
    bank_dir.cleanup()
    for step in signed:
        say(f"   the bank signed with its own key: {step.summary['en']}")
    st.tokens["bank"] = int(financed["token_id"])
    say(f"   the bank paid {yuan(financed['price'])} for {yuan(financed['value'])}")
    risk = call("GET", f"/risk/participants/core-{tag}", k["bank"])
    if risk.get("score") is None:
        say(f"   the bank's risk view of CoreCo: {risk.get('reason', 'no score')}")
    else:
        say(f"   the bank's risk view of CoreCo: grade {risk['grade']}, score {risk['score']}, "
            f"PD {float(risk['pd']):.1%}")
    ceiling = float(call("GET", "/risk/policy", k["auditor"])["rate_ceiling_in_force"])
    at = int(call("GET", "/health", k["auditor"])["head_time"])
    value, price = int(financed["value"]), int(financed["price"])
    rate = (value - price) / price * 365 * DAY / max(now + 90 * DAY - at, 1)
    say(f"   rate check: implied annual rate {rate:.2%}, "
        f"{'within' if rate <= ceiling else 'ABOVE'} the ceiling of {ceiling:.2%}")

    say("== 6. CoreCo authorizes collection; maturity passes; the keeper pays every holder")
    call("POST", f"/receivables/{st.slot}/collection", k["core"], {"enabled": True})
    call("POST", "/dev/time-travel", operator_key, {"seconds": 91 * DAY})
    deadline = time.monotonic() + settle_timeout_s
    while True:
        s = call("GET", f"/receivables/{st.slot}/settlement", k["auditor"])
        if s["status"] == "settled":
            break
        if time.monotonic() > deadline:
            raise StoryError(f"the keeper did not settle receivable {st.slot}: {s}")
        time.sleep(0.2)
    say(f"   repaid {yuan(s['repaid'])}, paid out {yuan(s['paid_out'])}: settled")

    say("== 7. The auditor's view")
    st.trace = call("GET", f"/audit/receivables/{st.slot}/trace", k["auditor"])
    names = {v.lower(): kk for kk, v in p.items()}

    def party(address: str | None) -> str:
        return names.get((address or "").lower(), "contract")
    by_parent: dict[str | None, list[dict[str, Any]]] = {}
    for n in st.trace["lineage"]:
        by_parent.setdefault(n["parent_token_id"], []).append(n)

    def show(node: dict[str, Any], depth: int) -> None:
        say(f"   {'  ' * depth}token {node['token_id']}  {party(node['holder']):<11}"
            f" redeemed {yuan(node['redeemed']):>14}")
        for child in by_parent.get(node["token_id"], []):
            show(child, depth + 1)

    for root in by_parent.get(None, []):
        show(root, 0)
    for f in st.trace["financings"]:
        say(f"   financing: offer {f['offer_id']} {yuan(f['value'])} for {yuan(f['price'])}, "
            f"implied annual rate {_rate(f['implied_annual_rate'])} "
            f"(registration {f['registration_ref'][:12]}…)")
    ev = st.trace["evidence"]
    say(f"   evidence: root anchored={ev['anchored']} revoked={ev['revoked']} "
        f"verified={ev['verified']}")
    say("   fund flows (payer -> payee, amount, kind):")
    for short in ("core", "bank", "supplier-a", "supplier-b", "supplier-c"):
        flows = call("GET", f"/audit/participants/{p[short]}/flows", k["auditor"])
        for row in flows["flows"]:
            if row["direction"] == "in" or short == "core":
                st.flows.append(row)
                say(f"     {party(row['payer']):<11} -> "
                    f"{party(row['payee']):<11} {yuan(row['amount']):>14}  {row['kind']}")
    st.reconcile = call("GET", "/audit/reconcile", k["auditor"])
    say(f"   reconciliation: {st.reconcile['tokens_checked']} tokens, "
        f"{st.reconcile['receivables_checked']} receivables, "
        f"{len(st.reconcile['differences'])} differences")
    if not st.reconcile["clean"]:
        raise StoryError(f"reconciliation found differences: {st.reconcile['differences']}")
    for row in st.flows:
        if row["kind"] == "redemption":
            who = party(row["payee"])
            st.paid[who] = st.paid.get(who, 0) + int(row["amount"])
    return st


def _rate(fraction: str | None) -> str:
    if not fraction:
        return "n/a"
    num, _, den = fraction.partition("/")
    return f"{int(num) / int(den or 1):.2%}"
