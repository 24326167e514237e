"""The console's server side: the page in the chosen language, its assets or a clear refusal, and
the reads it adds (a receivable's documents, an offer's terms) under the API's visibility rules;
and the receivables list's maturity and amount filters the console pages through."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from api.console import router as console_router
from tests.console.conftest import DAY, Gateway

pytestmark = pytest.mark.xdist_group("console-routes")


def test_page_speaks_the_chosen_language_and_remembers_it(gateway: Gateway) -> None:
    with httpx.Client(base_url=gateway.url) as c:
        zh = c.get("/console")
        assert zh.status_code == 200 and '<html lang="zh-CN">' in zh.text
        assert "供应链金融应收账款控制台" in zh.text
        en = c.get("/console?lang=en")
        assert '<html lang="en">' in en.text and "Supply-chain finance" in en.text
        assert c.get("/console").text.count('<html lang="en">') == 1  # the cookie remembers
    asked = httpx.get(gateway.url + "/console", headers={"Accept-Language": "en-GB,en;q=0.8"})
    assert '<html lang="en">' in asked.text
    odd = httpx.get(gateway.url + "/console?lang=fr")
    assert '<html lang="zh-CN">' in odd.text


def test_assets_are_served_from_the_package_or_refused_plainly(
        gateway: Gateway, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    js = httpx.get(gateway.url + "/console/static/console.js")
    assert js.status_code == 200 and "scfConsole" in js.text
    if console_router.ECHARTS.is_file():
        ec = httpx.get(gateway.url + "/console/static/vendor/echarts.min.js")
        assert ec.status_code == 200 and len(ec.content) > 500_000
    monkeypatch.setattr(console_router, "ECHARTS", tmp_path / "echarts.min.js")
    missing = httpx.get(gateway.url + "/console/static/vendor/echarts.min.js")
    assert missing.status_code == 503
    assert missing.json()["code"] == "console_assets_missing"
    assert "scripts/setup.sh" in missing.json()["detail"]
    page = httpx.get(gateway.url + "/console?lang=en").text
    assert 'id="assets-missing"' in page and "echarts.min.js" not in page


def _slots(gateway: Gateway, query: str) -> set[int]:
    page = gateway.call("GET", "/receivables?limit=500&" + query, "auditor")
    return {int(r["slot"]) for r in page["items"]}


def test_receivables_filter_by_maturity_and_face_value(gateway: Gateway) -> None:
    small = gateway.apply("f1", amount=100_000_00, days=30)
    large = gateway.apply("f2", amount=900_000_00, days=120)
    near = int(gateway.call("GET", f"/receivables/{small}", "auditor")["maturity"])
    far = int(gateway.call("GET", f"/receivables/{large}", "auditor")["maturity"])
    mine = {small, large}
    assert _slots(gateway, "min_face_value=50000000") & mine == {large}
    assert _slots(gateway, "max_face_value=10000000") & mine == {small}  # bound included
    assert _slots(gateway, "min_face_value=10000000&max_face_value=90000000") & mine == mine
    assert _slots(gateway, f"maturity_to={near}") & mine == {small}
    assert _slots(gateway, f"maturity_from={near + 1}") & mine == {large}
    assert _slots(gateway, f"maturity_from={near}&maturity_to={far}") & mine == mine
    assert _slots(gateway, f"maturity_from={far + DAY}") & mine == set()
    # filters narrow what the caller may see; they never widen it
    assert gateway.call("GET", "/receivables?min_face_value=0", "supplier-d")["total"] == 0
    bad = httpx.get(gateway.url + "/receivables?min_face_value=-1",
                    headers={"Authorization": f"Bearer {gateway.keys['auditor']}"})
    assert bad.status_code == 422


def test_documents_of_a_receivable_follow_document_visibility(gateway: Gateway) -> None:
    slot = gateway.apply("d1")
    kinds = {"1": "purchase_order", "2": "logistics", "3": "invoice"}

    def docs(who: str, expect: int = 200) -> Any:
        return gateway.call("GET", f"/console/api/receivables/{slot}/documents", who,
                            expect=expect)
    for who in ("auditor", "supplier-a", "core"):  # an auditor, the seller, the buyer
        got = docs(who)
        assert sorted(kinds[str(d["doc_type"])] for d in got) == [
            "invoice", "logistics", "purchase_order"], who
        assert all(d["batch_root"] for d in got)
    assert docs("supplier-d", 404)["code"] == "not_found"  # not a party to the receivable


def test_offer_terms_give_the_financier_the_implied_rate(gateway: Gateway) -> None:
    slot = gateway.apply("o1")
    token = gateway.call("POST", f"/receivables/{slot}/confirm", "core")["token_id"]
    now = int(gateway.call("GET", "/health", "auditor")["head_time"])
    offer = gateway.call("POST", "/offers", "supplier-a", {
        "token_id": token, "value": "20000000", "financier": gateway.addresses["bank"],
        "price": "19600000", "expiry": now + 10 * DAY, "registration_ref": "ZDDJ-o1"}, 201)
    oid = offer["offer_id"]
    # the bank is not a party to the receivable yet, but must price the offer
    gateway.call("GET", f"/receivables/{slot}", "bank", expect=404)
    terms = gateway.call("GET", f"/console/api/offers/{oid}/terms", "bank")
    maturity = int(gateway.call("GET", f"/receivables/{slot}", "auditor")["maturity"])
    assert terms["maturity"] == maturity
    num, den = (int(x) for x in terms["implied_annual_rate"].split("/"))
    seconds = maturity - int(terms["now"])
    assert num * 19_600_000 * seconds == den * 400_000 * 365 * DAY  # exact
    assert terms["above_ceiling"] is False
    assert gateway.call("GET", f"/console/api/offers/{oid}/terms", "supplier-a")["offer_id"] == oid
    for who in ("supplier-d", "core"):  # not a party to the offer: as if it did not exist
        assert gateway.call("GET", f"/console/api/offers/{oid}/terms", who,
                            expect=404)["code"] == "not_found"
