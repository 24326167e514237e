"""Risk gates on the gateway: the operator's policy (visibility, idempotency, history), and each
gate off, flagging (the request goes through, an alert is raised) or blocking (a problem, and
nothing sent: the caller's nonce and the transaction journal unchanged)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from eth_utils import to_checksum_address
from sqlalchemy import func, select

from scf_chain.db.models import TxJournalEntry
from scf_chain.risk.data import training_set
from scf_chain.risk.model import save_model
from scf_chain.risk.service import service_for
from scf_chain.risk.train import fit_scorecard
from tests.api.conftest import Api, World, world  # noqa: F401  (fixture)
from tests.indexer.fixtures import _pg_database  # noqa: F401  (fixture)
from tests.risk.synthetic import FAST, synthetic_frame
from tests.risk.test_risk_routes import _docs, _submit

DAY = 86_400


def _policy(w: World, **changes: Any) -> dict[str, Any]:
    r = w.operator.post("/risk/policy", changes)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def _nonce(w: World, name: str) -> int:
    return int(w.platform.chain.w3.eth.get_transaction_count(to_checksum_address(w.address(name))))


def _journal(w: World, name: str) -> int:
    """The participant's journaled transactions (each is journaled before it is sent)."""
    with w.platform.sessions() as s:
        return int(s.scalar(select(func.count()).select_from(TxJournalEntry).where(
            TxJournalEntry.participant == name)) or 0)


def _alerts(m: dict[str, Any], gate: str) -> list[dict[str, Any]]:
    r = m["aud"][1].get("/risk/alerts", params={"detector": gate, "limit": 200})
    assert r.status_code == 200, r.text
    return r.json()["items"]  # type: ignore[no-any-return]


def _blocked(r: Any, gate: str, code: str, status: int = 422) -> None:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["code"] == "risk_gate_blocked" and body["gate"] == gate
    assert [x["code"] for x in body["reasons"]] == [code]


def _apply(w: World, m: dict[str, Any], face: int, docs: dict[str, Any],
           debtor: str = "core") -> Any:
    ids = _submit(w, m["a"][1], m["log"][1], docs)
    return m["a"][1].post("/receivables", {
        "debtor": m[debtor][0], "face_value": str(face),
        "maturity": w.platform.chain.now() + 60 * DAY, "invoice_doc_id": ids["invoice"],
        "order_doc_id": ids["order"], "delivery_doc_id": ids["delivery"]})


@pytest.fixture(scope="module")
def market(world: World) -> dict[str, Any]:  # noqa: F811
    m: dict[str, Any] = {}
    for key, role, prefix, funds in (("core", "debtor", "core", 10**9),
                                     ("core2", "debtor", "core", 10**9),
                                     ("a", "supplier", "sup", 0), ("bank", "financier", "bank", 10**9),
                                     ("log", "anchorer", "log", 0), ("aud", "auditor", "aud", 0)):
        m[key] = world.participant(prefix, [role], funds)
    for debtor, limit in (("core", 10**10), ("core2", 1_000_000)):
        r = world.operator.post(f"/participants/{m[debtor][0]}/credit-limit", {"limit": str(limit)})
        assert r.status_code == 200, r.text
    r = _apply(world, m, 500_000, _docs(world, m["core"][0], m["a"][0], uuid.uuid4().hex[:8]))
    assert r.status_code == 201, r.text
    r = m["core"][1].post(f"/receivables/{r.json()['slot']}/confirm")
    assert r.status_code == 200, r.text
    m["token"] = r.json()["token_id"]
    return m


def test_policy_defaults_visibility_idempotency_and_history(world: World,  # noqa: F811
                                                            market: dict[str, Any]) -> None:
    aud = market["aud"][1]
    r = aud.get("/risk/policy")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["version"] == 0 and body["changed_by"] == "system"
    assert body["policy"]["rate_ceiling"] == "flag" and body["policy"]["min_grade"] == "off"
    assert body["policy"]["evidence_consistency"] == "flag"
    assert body["policy"]["debtor_exposure"] == "flag"
    assert body["rate_ceiling_in_force"] == world.platform.settings.risk_rate_ceiling
    for api in (market["a"][1], market["bank"][1]):
        assert api.get("/risk/policy").status_code == 403
    for api in (aud, market["a"][1]):
        r = api.post("/risk/policy", {"rate_ceiling": "block"})
        assert r.status_code == 403, r.text
    r = world.client.post("/risk/policy", json={"rate_ceiling": "off"},
                          headers=world.operator.headers())
    assert r.status_code == 400 and r.json()["code"] == "idempotency_key_missing"

    key = str(uuid.uuid4())
    change = {"rate_ceiling": "block", "max_annual_rate": 0.2, "reason": "2025 rules"}
    first = world.operator.post("/risk/policy", change, idem=key)
    assert first.status_code == 200, first.text
    again = world.operator.post("/risk/policy", change, idem=key)
    assert again.status_code == 200 and again.headers.get("Idempotent-Replayed") == "true"
    now = aud.get("/risk/policy").json()
    assert now["version"] == first.json()["version"] >= 1
    assert now["policy"]["rate_ceiling"] == "block" and now["rate_ceiling_in_force"] == 0.2
    assert now["policy"]["evidence_consistency"] == "flag"  # unchanged: absent from the change
    assert now["changed_by"] == "operator" and now["reason"] == "2025 rules"
    assert [v["version"] for v in now["history"]] == [now["version"], 0]

    assert world.operator.post("/risk/policy", {"rate_ceiling": "nope"}).status_code == 422
    r = world.operator.post("/risk/policy", {"min_grade": "block"})
    assert r.status_code == 422 and r.json()["code"] == "risk_policy_invalid"
    _policy(world, max_annual_rate=None, reason="back to the setting")
    later = aud.get("/risk/policy").json()
    assert later["rate_ceiling_in_force"] == world.platform.settings.risk_rate_ceiling
    # never lose history: every version kept, newest first, with who, when and why
    assert [v["version"] for v in later["history"]] == [later["version"], now["version"], 0]
    assert later["history"][1]["policy"]["max_annual_rate"] == 0.2
    assert later["history"][1]["reason"] == "2025 rules" and later["history"][1]["changed_at"] > 0


def test_rate_ceiling_blocks_flags_and_is_off(world: World,  # noqa: F811
                                              market: dict[str, Any]) -> None:
    a, a_api = market["a"]
    bank, bank_api = market["bank"]
    now = world.platform.chain.now()
    dear = {"token_id": market["token"], "value": "100000", "financier": bank, "price": "90000",
            "expiry": now + 30 * DAY}  # ~ 60 % a year over 60 days
    _policy(world, rate_ceiling="block", max_annual_rate=0.12)
    before, journal = _nonce(world, a), _journal(world, a)
    key = str(uuid.uuid4())
    r = a_api.post("/offers", dear, idem=key)
    _blocked(r, "rate_ceiling", "rate_above_ceiling")
    assert "above the ceiling 12.00%" in r.json()["reasons"][0]["text"]
    replay = a_api.post("/offers", dear, idem=key)
    assert replay.json() == r.json() and replay.headers.get("Idempotent-Replayed") == "true"
    assert _nonce(world, a) == before and _journal(world, a) == journal

    _policy(world, rate_ceiling="flag")
    assert not _alerts(market, "rate_ceiling")
    r = a_api.post("/offers", dear)
    assert r.status_code == 201, r.text
    offer_id = r.json()["offer_id"]
    [alert] = _alerts(market, "rate_ceiling")
    assert alert["details"]["reasons"] == ["rate_above_ceiling"]
    assert alert["details"]["ceiling"] == 0.12 and alert["status"] == "open"

    _policy(world, rate_ceiling="block")
    before, journal = _nonce(world, bank), _journal(world, bank)
    _blocked(bank_api.post(f"/offers/{offer_id}/accept"), "rate_ceiling", "rate_above_ceiling")
    assert _nonce(world, bank) == before and _journal(world, bank) == journal
    _policy(world, rate_ceiling="flag")
    r = bank_api.post(f"/offers/{offer_id}/accept")
    assert r.status_code == 200, r.text
    assert len(_alerts(market, "rate_ceiling")) == 2  # the offer's and the acceptance's

    _policy(world, rate_ceiling="off")
    r = a_api.post("/offers", dear)
    assert r.status_code == 201, r.text
    assert len(_alerts(market, "rate_ceiling")) == 2


def test_debtor_exposure_blocks_over_the_limit_and_flags_near_it(
        world: World, market: dict[str, Any]) -> None:  # noqa: F811
    core2, core2_api = market["core2"]
    a = market["a"][0]
    _policy(world, debtor_exposure="block", exposure_near_share=0.9)
    near = _apply(world, market, 950_000, _docs(world, core2, a, uuid.uuid4().hex[:8]), "core2")
    assert near.status_code == 201, near.text
    over = _apply(world, market, 100_000, _docs(world, core2, a, uuid.uuid4().hex[:8]), "core2")
    assert over.status_code == 201, over.text
    # near the limit (95 % of it): flagged even when the gate blocks, and confirmed
    r = core2_api.post(f"/receivables/{near.json()['slot']}/confirm")
    assert r.status_code == 200, r.text
    [alert] = _alerts(market, "debtor_exposure")
    assert alert["details"]["reasons"] == ["debtor_near_limit"]
    assert alert["slot"] == near.json()["slot"]
    # over it: blocked before the transaction (422, as the contract's own check answers)
    before, journal = _nonce(world, core2), _journal(world, core2)
    r = core2_api.post(f"/receivables/{over.json()['slot']}/confirm")
    _blocked(r, "debtor_exposure", "debtor_over_limit")
    assert _nonce(world, core2) == before and _journal(world, core2) == journal
    # off: the gate says nothing, the contract's own check refuses it
    _policy(world, debtor_exposure="off")
    r = core2_api.post(f"/receivables/{over.json()['slot']}/confirm")
    assert r.status_code == 422 and r.json()["code"] == "contract_CreditLimitExceeded", r.text
    assert len(_alerts(market, "debtor_exposure")) == 1


def _over_invoiced(w: World, m: dict[str, Any]) -> dict[str, Any]:
    """An order of 1,000,000 invoiced twice for 600,000: each invoice agrees with the order, the
    two do not."""
    tag = uuid.uuid4().hex[:8]
    docs = _docs(w, m["core"][0], m["a"][0], tag)
    docs["invoice"]["amount"] = 600_000
    first = dict(docs["invoice"], number=f"INV-{tag}-1")
    r = m["a"][1].post("/evidence/documents", first)
    assert r.status_code == 201, r.text
    return docs


def test_evidence_consistency_blocks_flags_and_is_off(world: World,  # noqa: F811
                                                      market: dict[str, Any]) -> None:
    a = market["a"][0]
    core = market["core"][0]
    _policy(world, evidence_consistency="block")
    before, journal = _nonce(world, a), _journal(world, a)
    r = _apply(world, market, 300_000,
               _docs(world, core, a, uuid.uuid4().hex[:8], delivered="2026-09-20"))
    _blocked(r, "evidence_consistency", "delivered_after_invoice")
    assert _nonce(world, a) == before and _journal(world, a) == journal
    r = _apply(world, market, 300_000, _over_invoiced(world, market))
    _blocked(r, "evidence_consistency", "order_over_invoiced")
    assert _nonce(world, a) == before and _journal(world, a) == journal

    _policy(world, evidence_consistency="flag")
    r = _apply(world, market, 300_000, _over_invoiced(world, market))
    assert r.status_code == 201, r.text
    [alert] = _alerts(market, "evidence_consistency")
    assert alert["details"]["reasons"] == ["order_over_invoiced"]
    assert world.address(a).lower() in alert["parties"]

    _policy(world, evidence_consistency="off")
    r = _apply(world, market, 300_000, _over_invoiced(world, market))
    assert r.status_code == 201, r.text
    assert len(_alerts(market, "evidence_consistency")) == 1


def test_min_grade_without_a_model_passes_with_a_note(world: World,  # noqa: F811
                                                      market: dict[str, Any]) -> None:
    svc = service_for(world.platform)
    shipped = svc.model_file
    svc.model_file, svc._scorers = None, None  # SCF_RISK_DEFAULT_MODEL=false, no model file
    try:
        _policy(world, rate_ceiling="off", min_grade="block", min_grade_value="A")
        note = market["aud"][1].get("/risk/policy").json()["notes"]["min_grade"]
        assert note.startswith("no model configured")
        r = market["a"][1].post("/offers", {
            "token_id": market["token"], "value": "1000", "financier": market["bank"][0],
            "price": "999", "expiry": world.platform.chain.now() + 30 * DAY})
        assert r.status_code == 201, r.text
        assert not _alerts(market, "min_grade")
    finally:
        svc.model_file, svc._scorers = shipped, None
        _policy(world, min_grade="off")


def test_min_grade_with_a_model_blocks_flags_and_lets_the_grade_through(
        world: World, market: dict[str, Any], tmp_path: Path) -> None:  # noqa: F811
    frame = synthetic_frame().drop(columns=["sector"]).rename(columns={
        "days_late": "debtor_avg_days_late", "on_time_share": "debtor_on_time_share"})
    model = fit_scorecard(training_set(frame, "status", bad_value="default"), FAST,
                          model_version="gates-test")
    save_model(model, tmp_path / "model.json")
    svc = service_for(world.platform)
    shipped = svc.model_file
    svc.model_file, svc._scorers = tmp_path / "model.json", None
    a, a_api = market["a"]
    offer = {"token_id": market["token"], "value": "1000", "financier": market["bank"][0],
             "price": "999", "expiry": world.platform.chain.now() + 30 * DAY}
    try:
        grade = market["aud"][1].get(f"/risk/participants/{a}").json()["grade"]
        grades = [g.grade for g in model.grades]
        assert grades.index(grade) > 0  # the holder (no history as a debtor) is not the best
        better = grades[grades.index(grade) - 1]
        r = world.operator.post("/risk/policy", {"min_grade": "block", "min_grade_value": "Z"})
        assert r.status_code == 422 and r.json()["code"] == "risk_policy_invalid"
        body = _policy(world, rate_ceiling="off", min_grade="block", min_grade_value=better)
        assert "min_grade" not in body["notes"]
        before, journal = _nonce(world, a), _journal(world, a)
        _blocked(a_api.post("/offers", offer), "min_grade", "grade_below_minimum")
        assert _nonce(world, a) == before and _journal(world, a) == journal
        _policy(world, min_grade_value=grade)  # the worst grade let through is the holder's
        assert a_api.post("/offers", offer).status_code == 201
        assert not _alerts(market, "min_grade")
        _policy(world, min_grade="flag", min_grade_value=better)
        assert a_api.post("/offers", offer).status_code == 201
        [alert] = _alerts(market, "min_grade")
        assert alert["details"]["grade"] == grade and alert["details"]["min_grade"] == better
    finally:
        svc.model_file, svc._scorers = shipped, None
        _policy(world, min_grade="off")
