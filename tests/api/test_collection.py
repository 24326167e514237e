"""Automatic collection and allowance-using payments through HTTP: several receivables of one
debtor, manual repayments in between, concurrent requests of one account, stalled collections."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest
from sqlalchemy import select

from scf_chain.db.models import KeeperAction
from tests.api.conftest import Api, World
from tests.api.test_routes import _trade

pytestmark = pytest.mark.xdist_group(__name__)
DAY = 86_400


class Cast:
    """A debtor with its own suppliers, a bank and an anchorer (fresh per test: allowances and
    balances are the debtor's, so tests must not share one)."""

    def __init__(self, world: World, debtor_funds: int = 10**9) -> None:
        self.world = world
        self.core, self.core_api = world.participant("core", ["debtor"], debtor_funds)
        r = world.operator.post(f"/participants/{self.core}/credit-limit", {"limit": str(10**12)})
        assert r.status_code == 200, r.text
        self.s1, self.s1_api = world.participant("s1", ["supplier"])
        self.s2, self.s2_api = world.participant("s2", ["supplier"])
        self.bank, self.bank_api = world.participant("bank", ["financier"], 10**9)
        self.log, self.log_api = world.participant("log", ["anchorer"])

    def receivable(self, supplier: str, supplier_api: Api, face: int,
                   maturity_in: int = 30 * DAY) -> tuple[int, int]:
        """A confirmed receivable of `face` on this debtor: (slot, the supplier's token)."""
        ids = {}
        for kind, doc in _trade(self.world, self.core, supplier, uuid.uuid4().hex[:10],
                                amount=face).items():
            r = supplier_api.post("/evidence/documents", doc)
            assert r.status_code == 201, r.text
            ids[kind] = r.json()["doc_id"]
        assert self.log_api.post("/evidence/batches").status_code == 201
        r = supplier_api.post("/receivables", {
            "debtor": self.core, "face_value": str(face),
            "maturity": self.world.platform.chain.now() + maturity_in,
            "invoice_doc_id": ids["invoice"], "order_doc_id": ids["order"],
            "delivery_doc_id": ids["delivery"]})
        assert r.status_code == 201, r.text
        slot = int(r.json()["slot"])
        r = self.core_api.post(f"/receivables/{slot}/confirm")
        assert r.status_code == 200, r.text
        return slot, int(r.json()["token_id"])

    def authorize(self, slot: int, enabled: bool = True) -> None:
        r = self.core_api.post(f"/receivables/{slot}/collection", {"enabled": enabled})
        assert r.status_code == 200, r.text

    def settlement(self, slot: int) -> dict[str, Any]:
        r = self.core_api.get(f"/receivables/{slot}/settlement")
        assert r.status_code == 200, r.text
        return dict(r.json())

    def balance(self, name: str) -> int:
        p = self.world.platform
        return p.money(p.operator_account).balance_of(self.world.address(name))


def _keeper_pass(world: World) -> Any:
    return world.platform.keeper().run_once()


def test_two_authorized_receivables_of_one_debtor_are_both_collected(world: World) -> None:
    c = Cast(world)
    a, _ = c.receivable(c.s1, c.s1_api, 1_000)
    b, _ = c.receivable(c.s2, c.s2_api, 1_000)
    c.authorize(a)
    c.authorize(b)
    before = c.balance(c.core)
    world.operator.post("/dev/time-travel", {"seconds": 31 * DAY})
    report = _keeper_pass(world)
    assert report.collected.get(a) == 1_000 and report.collected.get(b) == 1_000, report
    for slot in (a, b):
        st = c.settlement(slot)
        assert st["repaid"] == st["paid_out"] == "1000", st
        assert st["collection"]["status"] == "collected", st
    assert before - c.balance(c.core) == 2_000
    assert c.balance(c.s1) == c.balance(c.s2) == 1_000


def _concurrently(calls: list[Any]) -> list[Any]:
    """Run the calls in threads released together; their results in order."""
    results: list[Any] = [None] * len(calls)
    start = threading.Barrier(len(calls))

    def run(i: int) -> None:
        start.wait()
        results[i] = calls[i]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert not any(t.is_alive() for t in threads)
    return results


def test_concurrent_repayments_of_one_debtor_never_undo_each_other(world: World) -> None:
    c = Cast(world)
    slot, _ = c.receivable(c.s1, c.s1_api, 1_000_000)
    before = c.balance(c.core)
    answers = _concurrently([
        (lambda: c.core_api.post(f"/receivables/{slot}/repayments", {"amount": "300000"}))
        for _ in range(5)])
    ok = [r for r in answers if r.status_code == 200]
    refused = [r for r in answers if r.status_code != 200]
    assert len(ok) == 3, [r.text for r in answers]
    for r in refused:  # the 4th and 5th exceed what is left: a clear Overpayment, nothing else
        assert r.status_code == 422, r.text
        assert r.json()["code"] == "contract_Overpayment", r.text
    assert sorted(int(r.json()["total_repaid"]) for r in ok) == [300_000, 600_000, 900_000]
    st = c.settlement(slot)
    assert st["repaid"] == "900000" and st["outstanding"] == "100000"
    assert before - c.balance(c.core) == 900_000


def test_concurrent_offer_accepts_of_one_bank_all_succeed(world: World) -> None:
    c = Cast(world)
    slot, token = c.receivable(c.s1, c.s1_api, 1_000_000)
    now = world.platform.chain.now()
    offers = []
    for i in range(4):
        r = c.s1_api.post("/offers", {"token_id": str(token), "value": "100000",
                                      "financier": c.bank, "price": str(97_000 + i),
                                      "expiry": now + DAY})
        assert r.status_code == 201, r.text
        offers.append(r.json()["offer_id"])
    bank_before, s1_before = c.balance(c.bank), c.balance(c.s1)
    answers = _concurrently([(lambda oid=oid: c.bank_api.post(f"/offers/{oid}/accept"))
                             for oid in offers])
    assert [r.status_code for r in answers] == [200] * 4, [r.text for r in answers]
    paid = sum(97_000 + i for i in range(4))
    assert bank_before - c.balance(c.bank) == paid == c.balance(c.s1) - s1_before


def _allowance(world: World, name: str) -> int:
    p = world.platform
    return p.money(p.operator_account).allowance(world.address(name), p.manifest.receivable_token)


def test_manual_repayments_and_stopped_collection_keep_the_allowance_whole(world: World) -> None:
    c = Cast(world)
    a, _ = c.receivable(c.s1, c.s1_api, 1_000)
    b, _ = c.receivable(c.s2, c.s2_api, 2_000)
    d, _ = c.receivable(c.s2, c.s2_api, 4_000)  # never authorized: paid by hand only
    c.authorize(a)
    c.authorize(b)
    c.authorize(d)
    assert _allowance(world, c.core) == 7_000
    c.authorize(d, enabled=False)  # stopping collection takes its part out of the allowance
    assert _allowance(world, c.core) == 3_000
    for slot, amount in ((a, 400), (d, 1_500), (b, 2_000)):
        r = c.core_api.post(f"/receivables/{slot}/repayments", {"amount": str(amount)})
        assert r.status_code == 200, r.text
        assert _allowance(world, c.core) == 3_000 - 400 - (2_000 if slot == b else 0)
    assert c.settlement(a)["collection"]["status"] == "waiting_maturity"
    assert c.settlement(b)["collection"]["status"] == "collected"  # repaid by hand
    assert c.settlement(d)["collection"] == {"enabled": False, "status": "not_authorized",
                                             "reason": None, "detail": None,
                                             "last_attempt_at": None, "shortfall": "0"}
    before = c.balance(c.core)
    world.operator.post("/dev/time-travel", {"seconds": 31 * DAY})
    report = _keeper_pass(world)
    assert report.collected.get(a) == 600 and d not in report.collected and b not in report.stalled
    assert before - c.balance(c.core) == 600 and _allowance(world, c.core) == 0
    assert c.settlement(a)["collection"]["status"] == "collected"
    assert c.settlement(d)["outstanding"] == "2500"


def test_a_debtor_that_also_finances_keeps_its_collection_allowance(world: World) -> None:
    c = Cast(world)
    r = world.operator.post(f"/participants/{c.core}/roles", {"roles": ["debtor", "financier"]})
    assert r.status_code == 200, r.text
    slot, _ = c.receivable(c.s1, c.s1_api, 5_000)
    c.authorize(slot)
    # the debtor, as a financier, buys part of another debtor's receivable: the price is
    # approved on top of what it owes on its own authorized receivable
    other = Cast(world)
    _, token = other.receivable(other.s1, other.s1_api, 10_000, maturity_in=60 * DAY)
    offer = other.s1_api.post("/offers", {"token_id": str(token), "value": "3000",
                                          "financier": c.core, "price": "2900",
                                          "expiry": world.platform.chain.now() + DAY})
    assert offer.status_code == 201, offer.text
    r = c.core_api.post(f"/offers/{offer.json()['offer_id']}/accept")
    assert r.status_code == 200, r.text
    assert _allowance(world, c.core) == 5_000
    world.operator.post("/dev/time-travel", {"seconds": 31 * DAY})
    assert _keeper_pass(world).collected.get(slot) == 5_000


def test_a_debtor_short_of_money_shows_a_stalled_collection_until_it_pays(world: World) -> None:
    c = Cast(world, debtor_funds=1_500)
    a, _ = c.receivable(c.s1, c.s1_api, 1_000)
    b, _ = c.receivable(c.s2, c.s2_api, 1_000, maturity_in=31 * DAY)
    c.authorize(a)
    c.authorize(b)
    world.operator.post("/dev/time-travel", {"seconds": 32 * DAY})
    assert c.settlement(b)["collection"]["status"] == "due"
    report = _keeper_pass(world)
    assert report.collected.get(a) == 1_000 and report.collected.get(b) == 500, report
    assert b in report.stalled and a not in report.stalled
    st = c.settlement(b)
    col = st["collection"]
    assert col["status"] == "stalled" and col["reason"] == "balance_short", col
    assert col["shortfall"] == "500" and "balance (0)" in col["detail"], col
    assert col["last_attempt_at"] is not None
    assert st["repaid"] == st["paid_out"] == "500"  # holders got what there was
    # the creditor, who is owed the rest, sees the same status
    assert c.s2_api.get(f"/receivables/{b}/settlement").json()["collection"] == col

    def stalled_rows() -> list[KeeperAction]:
        with world.platform.sessions() as s:
            return list(s.scalars(select(KeeperAction).where(
                KeeperAction.slot == b, KeeperAction.action == "collect_stalled")))

    assert len(stalled_rows()) == 1
    assert _stalled_metric(world) == ("1.0", "500.0")  # the operator's alert: one stall, 5.00 short
    assert c.s2_api.get("/metrics").status_code == 403  # monitoring is for operator and auditors
    again = _keeper_pass(world)  # nothing could be pulled this time: NothingToCollect
    assert again.stalled.get(b) == report.stalled[b] and not again.collected
    assert len(stalled_rows()) == 1  # the same stall is one row, its time refreshed
    assert c.settlement(b)["collection"]["status"] == "stalled"

    p = world.platform
    p.money(p.operator_account).mint(world.address(c.core), 500)
    final = _keeper_pass(world)
    assert final.collected.get(b) == 500 and not final.stalled
    st = c.settlement(b)
    assert st["collection"]["status"] == "collected" and st["paid_out"] == "1000"
    assert c.balance(c.s2) == 1_000
    assert _stalled_metric(world) == ("0.0", "0.0")


def _stalled_metric(world: World) -> tuple[str, str]:
    """(stalled collections, their shortfall) for reason balance_short, from GET /metrics."""
    r = world.operator.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain"), r.text
    lines = dict(line.rsplit(" ", 1) for line in r.text.splitlines() if line and line[0] != "#")
    return (lines['scf_collections_stalled{reason="balance_short"}'],
            lines['scf_collections_stalled_shortfall{reason="balance_short"}'])
