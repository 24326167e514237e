"""A live gateway (uvicorn on a free port, embedded chain, keeper running) and a real Chromium.

The browser is Debian's /usr/bin/chromium driven by Playwright (no browser download); the tests
that need it are skipped, with the reason, only when that binary is absent.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from scf_chain.platform.core import Platform
from tests.live import live_gateway

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
DAY = 86_400
needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="/usr/bin/chromium is absent (scripts/setup.sh installs it with apt-get as root)")

# Chinese display names, as the platform's users have: an English label in a Chinese page can
# then only come from the console itself.
PEOPLE = {"core": ("核心企业", ["debtor"], 5_000_000_00),
          "supplier-a": ("供应商甲", ["supplier"], 0),
          "supplier-b": ("供应商乙", ["supplier"], 0),
          "supplier-c": ("供应商丙", ["supplier"], 0),
          "supplier-d": ("供应商丁", ["supplier"], 0),
          "bank": ("银行", ["financier"], 5_000_000_00),
          "logistics": ("顺丰物流", ["anchorer"], 0),
          "auditor": ("审计师", ["auditor"], 0)}


@dataclass
class Gateway:
    """The running gateway: its base URL, the operator's key and the story's participants."""

    url: str
    platform: Platform
    operator_key: str
    keys: dict[str, str] = field(default_factory=dict)
    addresses: dict[str, str] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)

    def call(self, method: str, path: str, who: str | None = None, body: Any = None,
             expect: int = 200) -> Any:
        key = self.keys[who] if who else self.operator_key
        headers = {"Authorization": f"Bearer {key}"}
        if method == "POST":
            headers["Idempotency-Key"] = str(uuid.uuid4())
        r = httpx.request(method, self.url + path, json=body, headers=headers, timeout=60)
        assert r.status_code == expect, f"{method} {path} -> {r.status_code}: {r.text}"
        return r.json()

    def apply(self, tag: str, amount: int = 1_000_000_00, days: int = 90) -> int:
        """Supplier A applies against fresh, anchored evidence (as scripts/demo_story.py does): a slot."""
        p = self.addresses
        order = {"kind": "purchase_order", "number": f"PO-{tag}", "buyer": p["core"],
                 "seller": p["supplier-a"], "currency": "CNY", "issue_date": "2026-09-01",
                 "lines": [{"sku": "STEEL-COIL", "description": "cold-rolled coil",
                            "quantity": 200, "unit_price": 6_000_00}], "amount": 1_200_000_00}
        delivery = {"kind": "logistics", "waybill": f"SF-{tag}", "carrier": "SF Express",
                    "order_number": f"PO-{tag}", "event": "delivered",
                    "timestamp": "2026-09-20T08:00:00+08:00", "location": "Shanghai",
                    "shipper": p["supplier-a"], "consignee": p["core"], "signed_by": "W3"}
        invoice = {"kind": "invoice", "number": f"INV-{tag}", "seller": p["supplier-a"],
                   "buyer": p["core"], "order_number": f"PO-{tag}", "currency": "CNY",
                   "amount": amount, "tax": 0, "issue_date": "2026-09-25"}
        ids = {}
        for who, doc in (("core", order), ("logistics", delivery), ("supplier-a", invoice)):
            ids[doc["kind"]] = self.call("POST", "/evidence/documents", who, doc, 201)["doc_id"]
        self.call("POST", "/evidence/batches", "logistics", None, 201)
        now = int(self.call("GET", "/health", "auditor")["head_time"])
        applied = self.call("POST", "/receivables", "supplier-a", {
            "debtor": p["core"], "face_value": str(amount), "maturity": now + days * DAY,
            "invoice_doc_id": ids["invoice"], "order_doc_id": ids["purchase_order"],
            "delivery_doc_id": ids["logistics"]}, 201)
        return int(applied["slot"])



@pytest.fixture(scope="module")
def gateway() -> Iterator[Gateway]:
    """The gateway served over real HTTP, with the story's participants registered."""
    with live_gateway("console-gateway") as (url, platform):
        gw = Gateway(url, platform,
                     platform.issue_api_key("operator").token)
        tag = uuid.uuid4().hex[:6]
        for short, (display, roles, funds) in PEOPLE.items():
            out = gw.call("POST", "/participants", None,
                          {"name": f"{short}-{tag}", "display_name": display, "roles": roles,
                           "dev_funds": str(funds)}, 201)
            gw.keys[short] = out["api_key"]
            gw.addresses[short] = out["participant"]["address"]
            gw.names[short] = out["participant"]["name"]
        gw.call("POST", f"/participants/{gw.names['core']}/credit-limit", None,
                {"limit": "1000000000"})
        yield gw


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Chromium by its path, headless, with a throw-away profile."""
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is absent (scripts/setup.sh installs it as root)")
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as profile, sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            profile, executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1360, "height": 900}, accept_downloads=True)
        try:
            yield context
        finally:
            context.close()
