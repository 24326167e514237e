"""The console in a real browser: each role signs in, the demo story is played from the pages, the
tree and the Sankey show the trace's numbers, visibility holds, and both languages are whole.

The tests of this module share one gateway and one browser page; the story is played from the
pages once (the `played` fixture) and the tests that read its outcome use it. Every step waits
for a condition, never for a fixed time.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.console.conftest import DAY, Gateway, needs_chromium

pytestmark = [needs_chromium, pytest.mark.xdist_group("console")]

# Screenshots of the main pages: README's come from `SCF_CONSOLE_SHOTS=docs/console pytest
# tests/console`; otherwise they go to a scratch folder (taken all the same, so they keep working)
SHOTS = Path(os.environ.get("SCF_CONSOLE_SHOTS") or tempfile.mkdtemp(prefix="console-shots-"))
CATALOGUES = Path(__file__).resolve().parents[2] / "api" / "console" / "i18n"
TIMEOUT_MS = 60_000  # a loaded 2-core machine: generous, and only ever waited on a condition


class Console:
    """One browser page on the console, with the waits its views need."""

    def __init__(self, page: Any, url: str) -> None:
        self.page, self.url = page, url

    def open(self, lang: str = "zh-CN", hash_: str = "") -> None:
        self.page.goto(f"{self.url}/console?lang={lang}{hash_}")
        self.page.wait_for_selector("#signin, #nav a", timeout=TIMEOUT_MS)

    def sign_in(self, key: str) -> None:
        if self.page.locator("#whoami button").count():
            self.page.click("#whoami button")
        self.page.wait_for_selector("#signin input[name=api_key]", timeout=TIMEOUT_MS)
        field = self.page.locator("#signin input[name=api_key]")
        field.fill(key)
        field.press("Enter")  # the keyboard submits the form
        self.page.wait_for_selector("#whoami [data-me]", timeout=TIMEOUT_MS)
        self.page.wait_for_selector("main[data-view=receivables] table", timeout=TIMEOUT_MS)

    def go(self, hash_: str) -> None:
        before = self.page.get_attribute("#main", "data-ready")
        self.page.evaluate("""h => { if (location.hash === h)
            window.dispatchEvent(new HashChangeEvent('hashchange')); else location.hash = h; }""",
                           hash_)
        self.page.wait_for_function(
            "prev => document.getElementById('main').dataset.ready !== prev", arg=before,
            timeout=TIMEOUT_MS)

    def text(self, selector: str) -> str:
        return str(self.page.inner_text(selector))

    def shot(self, name: str) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        path = SHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        assert path.stat().st_size > 5_000  # a page, not a blank

    def option(self, chart_id: str) -> Any:
        return self.page.evaluate(
            """id => { const o = echarts.getInstanceByDom(document.getElementById(id)).getOption();
                       return JSON.parse(JSON.stringify(o.series)); }""", chart_id)


@pytest.fixture(scope="module")
def console(gateway: Gateway, browser: Any) -> Iterator[Console]:
    page = browser.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    yield Console(page, gateway.url)
    page.close()
    # an uncaught script error or a missing message fails the module's last test's teardown
    assert not [e for e in errors if "Failed to load resource" not in e], errors


@pytest.fixture(scope="module")
def pending(gateway: Gateway) -> int:
    """An application of 500,000.00 by supplier A, left pending: who may act on it?"""
    return gateway.apply("c0", amount=500_000_00)


def _tree_nodes(series: list[Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []

    def walk(n: dict[str, Any]) -> None:
        out.append(n)
        for c in n.get("children") or []:
            walk(c)
    for root in series[0]["data"]:
        walk(root)
    return out


def test_each_role_sees_its_scope_and_only_its_actions(console: Console, gateway: Gateway,
                                                       pending: int) -> None:
    slot = pending
    console.open("en")
    console.sign_in(gateway.keys["auditor"])
    nav = console.text("#nav")
    assert "Reconciliation" in nav and "My tokens" not in nav
    assert "every financing term" in console.text(".scope")
    console.go(f"#/receivables/{slot}")
    assert console.page.locator("[data-action=confirm]").count() == 0  # not the debtor

    console.sign_in(gateway.keys["supplier-a"])
    nav = console.text("#nav")
    assert "My tokens" in nav and "Reconciliation" not in nav
    console.go(f"#/receivables/{slot}")
    assert console.page.locator("[data-action=confirm]").count() == 0

    console.sign_in(gateway.keys["bank"])
    assert "Financing offers" in console.text("#nav")
    assert "Reconciliation" not in console.text("#nav")

    console.sign_in(gateway.keys["core"])
    nav = console.text("#nav")
    assert "My tokens" not in nav and "Financing offers" not in nav
    console.go(f"#/receivables/{slot}")
    assert console.page.locator("[data-action=confirm]").count() == 1
    assert console.page.locator("[data-action=reject]").count() == 1


@pytest.fixture(scope="module")
def played(console: Console, gateway: Gateway) -> dict[str, Any]:
    """The demo story played from the pages, each step checked as it goes: CoreCo confirms; A
    splits to B (and, once more, to C through a lost answer); A offers a part to the bank; B
    splits to C; the bank accepts; CoreCo authorizes collection; the keeper settles."""
    slot, page = gateway.apply("c1"), console.page
    console.open("zh-CN")
    # CoreCo confirms 1,000,000.00 (确权)
    console.sign_in(gateway.keys["core"])
    console.go(f"#/receivables/{slot}")
    console.shot("receivable-pending")
    page.click("[data-action=confirm]")
    page.wait_for_function("() => document.querySelector('[data-field=status]')"
                           "?.textContent === '已确权'")
    assert "1,000,000.00" in console.text("[data-field=face_value]")

    # Supplier A splits 300,000 to B
    console.sign_in(gateway.keys["supplier-a"])
    console.go("#/tokens")
    page.select_option("form[data-form=split] select[name=to]", gateway.names["supplier-b"])
    page.fill("form[data-form=split] input[name=value]", "300,000")
    page.click("[data-action=split]")
    page.wait_for_function("() => document.querySelector('main table')?.innerText"
                           ".includes('700,000.00')")

    # a refusal is shown decoded: more than the token holds
    page.select_option("form[data-form=split] select[name=to]", gateway.names["supplier-c"])
    page.fill("form[data-form=split] input[name=value]", "9,000,000")
    page.click("[data-action=split]")
    page.wait_for_selector("form[data-form=split] .problem")
    refusal = console.text("form[data-form=split] .problem")
    assert "contract_InsufficientValue" in refusal and "凭证余额不足" in refusal

    # an action whose answer is lost is retried with the same Idempotency-Key: done once
    sent: list[str] = []

    def lose_first_answer(route: Any) -> None:
        sent.append(route.request.headers["idempotency-key"])
        if len(sent) == 1:
            route.fetch()  # the gateway does it ...
            route.abort("connectionreset")  # ... and the answer never reaches the page
        else:
            route.continue_()
    page.route("**/tokens/*/split", lose_first_answer)
    page.select_option("form[data-form=split] select[name=to]", gateway.names["supplier-c"])
    page.fill("form[data-form=split] input[name=value]", "50,000")
    page.click("[data-action=split]")
    page.wait_for_selector("form[data-form=split] .problem")
    page.click("[data-action=split]")
    page.wait_for_function("() => document.querySelector('main table')?.innerText"
                           ".includes('650,000.00')")
    page.unroute("**/tokens/*/split")
    assert len(sent) == 2 and sent[0] == sent[1]
    held = gateway.call("GET", "/tokens", "supplier-c")["items"]
    assert [t["value"] for t in held] == ["5000000"]  # 50,000.00 once, not twice

    # A offers 200,000 to the bank for 196,000
    page.fill("form[data-form=offer] input[name=value]", "200000")
    page.select_option("form[data-form=offer] select[name=financier]", gateway.names["bank"])
    page.fill("form[data-form=offer] input[name=price]", "196000.00")
    page.fill("form[data-form=offer] input[name=registration_ref]", "ZDDJ-c1")
    page.click("[data-action=offer]")
    page.wait_for_function("() => document.querySelector('main table')?.innerText"
                           ".includes('450,000.00')")

    # Supplier B splits 100,000 to C
    console.sign_in(gateway.keys["supplier-b"])
    console.go("#/tokens")
    page.select_option("form[data-form=split] select[name=to]", gateway.names["supplier-c"])
    page.fill("form[data-form=split] input[name=value]", "100000")
    page.click("[data-action=split]")
    page.wait_for_function("() => document.querySelector('main table')?.innerText"
                           ".includes('200,000.00')")

    # the bank sees the offer with its implied rate, and accepts (DvP)
    console.sign_in(gateway.keys["bank"])
    console.go("#/offers")
    offer = gateway.call("GET", "/offers", "bank")["items"][0]
    assert gateway.call("GET", f"/receivables/{slot}", "bank", expect=404)  # not a party yet
    r = gateway.call("GET", f"/receivables/{slot}", "auditor")
    now = int(gateway.call("GET", "/health", "bank")["head_time"])
    rate = (20_000_000 - 19_600_000) / 19_600_000 * 365 * DAY / (int(r["maturity"]) - now)
    shown = console.text(f"[data-rate='{offer['offer_id']}']")
    assert abs(float(shown.rstrip("%")) - rate * 100) < 0.02, (shown, rate)
    # beside it the risk signals, from the risk routes with the bank's key: the holder's score
    # from the shipped trade scorecards; the order, delivery and invoice are all there and
    # agree; the debtor's record
    oid = offer["offer_id"]
    assert console.text(f"[data-ceiling='{oid}']").strip() == "（未超利率预警线）"
    risk = f"[data-risk-of='{oid}']"
    holder_risk = console.text(f"{risk} [data-risk=holder]")
    assert "评分" in holder_risk and "等级" in holder_risk and "违约概率" in holder_risk, holder_risk
    evidence = console.text(f"{risk} [data-risk=evidence]")
    assert all(x in evidence for x in ("✓订单", "✓签收", "✓发票", "相互一致")), evidence
    assert "✗" not in evidence
    debtor = console.text(f"{risk} [data-risk=debtor]")
    assert "尚无还款记录" in debtor and "额度已用" in debtor and "/ 10,000,000.00" in debtor, debtor
    console.shot("offers")
    # a risk route that will not show a view (404) leaves the rest of the page working
    page.route("**/risk/participants/*", lambda route: route.fulfill(
        status=404, content_type="application/problem+json",
        body='{"type":"about:blank","title":"Not found","status":404,"code":"not_found"}'))
    console.go("#/offers")
    assert console.text(f"{risk} [data-risk=holder]").endswith("不可查看")
    assert "相互一致" in console.text(f"{risk} [data-risk=evidence]")
    assert console.text(f"[data-rate='{oid}']") == shown
    page.unroute("**/risk/participants/*")
    console.go("#/offers")
    page.click(f"[data-action=accept-{offer['offer_id']}]")
    page.wait_for_function("() => document.querySelector('main table')?.innerText"
                           ".includes('已接受')")
    assert gateway.call("GET", f"/offers/{offer['offer_id']}", "bank")["status"] == "accepted"

    # CoreCo authorizes collection from its page; maturity passes; the keeper pays every holder
    console.sign_in(gateway.keys["core"])
    console.go(f"#/receivables/{slot}")
    page.click("[data-action=collection]")
    page.wait_for_function("() => document.querySelector('[data-action=collection]')?.textContent"
                           " === '取消自动扣款'")
    assert gateway.call("GET", f"/receivables/{slot}/settlement", "core")["collect_enabled"]
    gateway.call("POST", "/dev/time-travel", None, {"seconds": 91 * DAY})
    deadline = time.monotonic() + 90
    while gateway.call("GET", f"/receivables/{slot}/settlement", "auditor")["status"] != "settled":
        assert time.monotonic() < deadline, "the keeper did not settle the receivable"
        time.sleep(0.2)  # polling a condition, not a timed assertion
    return {"slot": slot, "offer_id": offer["offer_id"]}


def test_demo_story_actions_from_the_pages(played: dict[str, Any], gateway: Gateway) -> None:
    slot = played["slot"]
    assert gateway.call("GET", f"/offers/{played['offer_id']}", "auditor")["status"] == "accepted"
    s = gateway.call("GET", f"/receivables/{slot}/settlement", "auditor")
    assert (s["status"], s["repaid"], s["paid_out"]) == ("settled", "100000000", "100000000")


def test_auditor_tree_has_every_token_with_holder_and_value(console: Console, gateway: Gateway,
                                                             played: dict[str, Any]) -> None:
    slot = played["slot"]
    console.sign_in(gateway.keys["auditor"])
    console.go(f"#/receivables/{slot}")
    assert console.page.locator("#repaid-progress").get_attribute("value") == "100000000"
    # evidence: invoice, order and delivery, each verified against the chain on request
    buttons = console.page.locator("[data-verify]")
    assert buttons.count() == 3
    for i in range(3):
        buttons.nth(i).click()
    console.page.wait_for_function("() => document.querySelectorAll('[data-ok=true]').length === 3")
    console.shot("receivable")

    console.go(f"#/lineage/{slot}")
    trace = gateway.call("GET", f"/audit/receivables/{slot}/trace", "auditor")
    nodes = {n["tokenId"]: n for n in _tree_nodes(console.option("tree-chart"))}
    assert set(nodes) == {n["token_id"] for n in trace["lineage"]}
    names = {gateway.addresses[k].lower(): k for k in gateway.addresses}
    got: dict[str, int] = {}
    for n in nodes.values():
        got[names[n["holder"].lower()]] = got.get(names[n["holder"].lower()], 0) + int(n["redeemed"])
    # A keeps 1,000,000 − 300,000 − 50,000 − 200,000; B 300,000 − 100,000; C 100,000 + 50,000
    assert got == {"supplier-a": 450_000_00, "supplier-b": 200_000_00,
                   "supplier-c": 150_000_00, "bank": 200_000_00}
    financed = [n for n in nodes.values() if n["financed"]]
    assert [names[n["holder"].lower()] for n in financed] == ["bank"]
    assert all(n["itemStyle"]["opacity"] < 1 for n in nodes.values())  # all redeemed: dimmed
    console.shot("lineage")


def test_sankey_totals_match_the_trace(console: Console, gateway: Gateway,
                                       played: dict[str, Any]) -> None:
    slot = played["slot"]
    console.sign_in(gateway.keys["auditor"])
    console.go(f"#/flows/{slot}")
    links = console.option("sankey-chart")[0]["links"]
    by_kind: dict[str, int] = {}
    for link in links:
        for kind in link["kinds"].split(","):
            by_kind[kind] = by_kind.get(kind, 0) + int(link["units"])
    assert by_kind == {"repayment": 100_000_000, "redemption": 100_000_000,
                       "financing": 19_600_000}
    into_contract = sum(int(x["units"]) for x in links if x["target"] == "应收账款合约")
    out_of_contract = sum(int(x["units"]) for x in links if x["source"] == "应收账款合约")
    assert into_contract == out_of_contract == 100_000_000
    assert {(x["source"], x["target"]) for x in links if x["kinds"] == "financing"} == {
        ("银行", "供应商甲")}
    assert console.page.get_attribute("#reconcile", "data-clean") == "true"
    assert "对账一致" in console.text("#reconcile")
    console.shot("flows")

    # the participant view exports the gateway's own CSV
    console.go(f"#/flows?who={gateway.addresses['bank']}")
    with console.page.expect_download() as dl:
        console.page.click("#flows-csv")
    text = Path(dl.value.path()).read_text()
    assert text.startswith("direction,") and "financing" in text and "redemption" in text


def test_a_supplier_cannot_see_anothers_receivable(console: Console, gateway: Gateway,
                                                   played: dict[str, Any]) -> None:
    slot = played["slot"]
    console.sign_in(gateway.keys["supplier-d"])
    assert "共 0 条" in console.text("main")
    console.go(f"#/receivables/{slot}")
    assert "not_found" in console.text("main .problem")
    console.go(f"#/lineage/{slot}")
    assert console.page.locator("#tree-chart").count() == 0
    assert console.page.locator("main .problem").count() == 1
    # a holder sees its own branch; the others' holders and values are withheld
    console.sign_in(gateway.keys["supplier-b"])
    console.go(f"#/lineage/{slot}")
    nodes = _tree_nodes(console.option("tree-chart"))
    withheld = [n for n in nodes if n["state"] == "withheld"]
    assert withheld and all(n["holder"] is None for n in withheld)
    assert {n["holder"].lower() for n in nodes if n["holder"]} == {
        gateway.addresses["supplier-b"].lower()}


def test_language_switch_and_no_english_label_in_chinese(console: Console, gateway: Gateway,
                                                         played: dict[str, Any]) -> None:
    slot = played["slot"]
    en = json.loads((CATALOGUES / "en.json").read_text("utf-8"))
    zh = json.loads((CATALOGUES / "zh-CN.json").read_text("utf-8"))
    # the English words of every label that differs in Chinese (placeholders cut out)
    words = {w for k, v in en.items() if v != zh[k]
             for w in re.split(r"\{[a-z_]+\}", v) if re.search(r"[A-Za-z]{3,}", w)}
    # participants' own names are data, not labels (the platform's operator is called "operator")
    data = sorted((p["display_name"] for p in gateway.call("GET", "/participants", "auditor")),
                  key=len, reverse=True)
    console.sign_in(gateway.keys["auditor"])
    console.page.click("a[data-lang=en]")
    console.page.wait_for_selector("main[data-view] table")
    assert console.page.get_attribute("html", "lang") == "en"
    assert "Receivables" in console.text("#nav")
    console.go(f"#/lineage/{slot}")
    console.shot("lineage-en")
    console.page.click("a[data-lang=zh-CN]")
    console.page.wait_for_selector("#tree-chart")  # the key survived the reload (same tab)
    assert console.page.get_attribute("html", "lang") == "zh-CN"
    for view in ("#/receivables", f"#/receivables/{slot}", f"#/lineage/{slot}",
                 f"#/flows/{slot}", "#/flows", "#/reconcile"):
        console.go(view)
        shown = console.text("body") + " ".join(console.page.eval_on_selector_all(
            "[aria-label], option, input[placeholder]",
            "els => els.map(e => [e.getAttribute('aria-label'), e.getAttribute('placeholder'),"
            " e.textContent].join(' '))"))
        for name in data:
            shown = shown.replace(name, " ")
        leaked = sorted(w.strip() for w in words
                        if re.search(r"(?<![A-Za-z])" + re.escape(w.strip()) + r"(?![A-Za-z])",
                                     shown))
        assert not leaked, (view, leaked)
        if view == "#/receivables":
            console.shot("receivables")


def test_keyboard_labels_and_contrast(console: Console, gateway: Gateway) -> None:
    page = console.page
    for view in ("#/receivables", "#/tokens"):
        console.sign_in(gateway.keys["supplier-a"])
        console.go(view)
        unlabelled = page.evaluate("""() => [...document.querySelectorAll('input, select')]
            .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
            .map(e => e.outerHTML)""")
        assert unlabelled == [], unlabelled
    # Tab reaches the filter form's controls in order, and Enter on the button submits it
    console.go("#/receivables")
    page.focus("#filters select[name=status]")
    order: list[str] = []
    while "BUTTON" not in order and len(order) < 7:
        name = page.evaluate("() => document.activeElement.name || document.activeElement.tagName")
        if not order or order[-1] != name:  # a date input takes one Tab per part of the date
            order.append(name)
        page.keyboard.press("Tab")
    assert order == ["status", "debtor", "maturity_from", "maturity_to", "min", "max", "BUTTON"]
    page.keyboard.press("Shift+Tab")
    page.fill("#filters input[name=min]", "2,000,000")
    page.focus("#filters button")
    page.keyboard.press("Enter")
    page.wait_for_function("() => location.hash.includes('min=')")
    # text and buttons: WCAG AA contrast (4.5:1) from the computed colours
    ratios = page.evaluate("""() => {
        const rgb = s => s.match(/[0-9.]+/g).slice(0, 3).map(Number);
        const lum = c => { const [r, g, b] = c.map(v => { v /= 255;
            return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
            return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
        const bg = e => { for (; e; e = e.parentElement) { const c = getComputedStyle(e).backgroundColor;
            if (!c.startsWith('rgba(0, 0, 0, 0)') && c !== 'transparent') return rgb(c); }
            return [255, 255, 255]; };
        return [...document.querySelectorAll('button, a, th, td, label, h1, h2')]
          .filter(e => e.offsetParent && e.textContent.trim())
          .map(e => { const a = lum(rgb(getComputedStyle(e).color)), b = lum(bg(e));
                      return [e.tagName + ':' + e.textContent.trim().slice(0, 20),
                              (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)]; });
    }""")
    low = [(what, round(r, 2)) for what, r in ratios if r < 4.5]
    assert ratios and not low, low


def test_lineage_of_1000_tokens_collapses_and_search_opens_to_a_holder(
        console: Console, gateway: Gateway) -> None:
    """A trace of 1,000 tokens (every one split further, up to five levels): the tree opens two
    levels, and searching a holder deep in it opens exactly the path to it."""
    bank = gateway.addresses["bank"]
    lineage = []
    for i in range(1000):
        parent = None if i == 0 else (i - 1) // 3 if i < 100 else 1 + (i % 99)
        lineage.append({"token_id": str(10_000 + i), "holder": f"0x{i:040x}" if i != 999 else bank,
                        "parent_token_id": None if parent is None else str(10_000 + parent),
                        "value": "100", "burned": False, "redeemed": "0", "state": "live",
                        "children": []})
    trace = {"slot": "424242", "face_value": "100000", "repaid": "0", "paid_out": "0",
             "token_count": "1000", "lineage": lineage, "financings": [], "repayments": [],
             "redemptions": [], "current_holders": {}}
    console.sign_in(gateway.keys["auditor"])
    console.page.route("**/audit/receivables/424242/trace", lambda route: route.fulfill(
        status=200, content_type="application/json", body=json.dumps(trace)))
    console.go("#/lineage/424242")
    nodes = _tree_nodes(console.option("tree-chart"))
    assert len(nodes) == 1000
    opened = [n for n in nodes if n.get("children") and not n.get("collapsed")]
    assert {n["depth"] for n in opened} == {0, 1}
    console.page.fill("#tree-search input[name=holder]", "银行")
    console.page.press("#tree-search input[name=holder]", "Enter")
    console.page.wait_for_function("() => document.getElementById('tree-found').textContent"
                                   ".includes('1')")
    nodes = {n["tokenId"]: n for n in _tree_nodes(console.option("tree-chart"))}
    path, t = [], lineage[999]["parent_token_id"]
    while t is not None:
        path.append(t)
        t = nodes[t]["parent"]
    opened_ids = {k for k, n in nodes.items() if n.get("children") and not n.get("collapsed")}
    assert opened_ids == set(path)
    console.shot("lineage-1000")
    console.page.unroute("**/audit/receivables/424242/trace")


def test_receivable_filters_from_the_page(console: Console, gateway: Gateway,
                                          played: dict[str, Any]) -> None:
    slot, page = played["slot"], console.page
    console.sign_in(gateway.keys["auditor"])
    r = gateway.call("GET", f"/receivables/{slot}", "auditor")
    due = datetime.fromtimestamp(int(r["maturity"]), UTC).date()

    def search(**fields: str) -> str:
        console.go("#/receivables")
        for name, value in fields.items():
            page.fill(f"#filters [name={name}]", value)
        before = page.get_attribute("#main", "data-ready")
        page.click("#filters button")
        page.wait_for_function("prev => document.getElementById('main').dataset.ready !== prev",
                               arg=before)
        return console.text("main")
    assert "共 1 条" in search(maturity_from=str(due), maturity_to=str(due), min="1,000,000",
                              max="1000000.00")
    assert "共 0 条" in search(maturity_to=str(due - timedelta(days=1)))
    assert "共 0 条" in search(min="1,000,000.01")
    assert "日期格式不正确" in search(maturity_from="31/12/2026")


def test_sankey_of_money_going_round_stays_acyclic(console: Console, gateway: Gateway) -> None:
    """A pays B, B pays A (a financier that also sells): ECharts draws only acyclic Sankeys, so
    the return leg gets its own node, and every amount is still there."""
    a, b = gateway.addresses["supplier-a"], gateway.addresses["bank"]
    console.sign_in(gateway.keys["auditor"])  # names come from the participants list
    rows = [{"kind": "financing", "payer": b, "payee": a, "amount": "300"},
            {"kind": "redemption", "payer": a, "payee": b, "amount": "200"},
            {"kind": "financing", "payer": b, "payee": a, "amount": "100"}]
    g = console.page.evaluate("""rows => {
        const g = scfConsole.sankeyOf(rows);
        const el = document.createElement('div');
        el.style.cssText = 'width:600px;height:300px';
        document.body.append(el);
        const c = echarts.init(el);
        c.setOption({series: [{type: 'sankey', data: g.nodes, links: g.links}]});
        const drawn = c.getOption().series[0].links.length;
        c.dispose(); el.remove();
        return {...g, drawn}; }""", rows)
    assert g["drawn"] == 2
    assert {(x["source"], x["target"], x["units"]) for x in g["links"]} == {
        ("银行", "供应商甲", "400"), ("供应商甲", "银行（回流）", "200")}
