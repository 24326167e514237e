"""Participants who hold their own keys: every signing route prepared, signed outside the gateway
and submitted; the answer is the custodial route's; tampering, a wrong signer, expiry, a moved
nonce, a stale preparation and a risk gate are refused with nothing sent; a resubmission
replays."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_utils import to_checksum_address
from sqlalchemy import func, select, update

from api.problems import route_leaves
from api.routes.custody import NOT_SIGNING, SIGNING_ROUTES
from scf_chain.db.models import CustodyPrepared, TxJournalEntry
from scf_chain.sdk import Gateway, GatewayError, KeyFileSigner, new_key_file
from scf_chain.sdk.signer import signable
from tests.api.conftest import Api, World
from tests.api.test_collection import Cast

pytestmark = pytest.mark.xdist_group(__name__)
DAY = 86_400
PASSWORD = "correct horse"


class External:
    """A participant registered with its own address; signs with a v3 key file of its own."""

    def __init__(self, world: World, tmp: Path, prefix: str, roles: list[str],
                 funds: int = 0) -> None:
        self.name = f"{prefix}-{uuid.uuid4().hex[:6]}"
        keyfile = tmp / f"{self.name}.json"
        self.address = new_key_file(keyfile, PASSWORD, iterations=2**10)
        r = world.operator.post("/participants", {
            "name": self.name, "display_name": self.name, "roles": roles,
            "dev_funds": str(funds), "custody": "external", "address": self.address})
        assert r.status_code == 201, r.text
        assert r.json()["participant"]["custody"] == "external"
        self.api = Api(world.client, r.json()["api_key"])
        self.signer = KeyFileSigner(keyfile, PASSWORD, chain_id=world.platform.chain.chain_id())
        self.sdk = Gateway("http://testserver", r.json()["api_key"], self.signer,
                           http=world.client)
        self.world = world

    def nonce(self) -> int:
        return int(self.world.platform.chain.w3.eth.get_transaction_count(
            to_checksum_address(self.address)))

    def prepare(self, path: str, body: Any = None) -> dict[str, Any]:
        r = self.api.client.post(f"/prepare{path}", json=body, headers=self.api.headers())
        assert r.status_code == 200, r.text
        return dict(r.json())

    def submit(self, prepared_id: str, raw: str) -> Any:
        return self.api.client.post("/custody/submit", json={
            "prepared_id": prepared_id, "signed_transaction": raw}, headers=self.api.headers())


def _offer(c: Cast, financier: str, value: int = 100_000, price: int = 99_000) -> str:
    _, token = c.receivable(c.s1, c.s1_api, 1_000_000)
    r = c.s1_api.post("/offers", {"token_id": str(token), "value": str(value),
                                  "financier": financier, "price": str(price),
                                  "expiry": c.world.platform.chain.now() + 10 * DAY})
    assert r.status_code == 201, r.text
    return str(r.json()["offer_id"])


def _journaled(world: World, name: str) -> int:
    with world.platform.sessions() as s:
        return int(s.scalar(select(func.count()).select_from(TxJournalEntry).where(
            TxJournalEntry.participant == name)) or 0)


def test_every_post_route_either_signs_as_the_caller_or_is_listed_as_not_signing(
        world: World) -> None:
    posts = {r.path for r in route_leaves(world.client.app.routes)  # type: ignore[attr-defined]
             if "POST" in (getattr(r, "methods", None) or ())}
    prepares = {p for p in posts if p.startswith("/prepare/")}
    assert prepares == {"/prepare" + p for p in SIGNING_ROUTES}
    assert posts - prepares == set(SIGNING_ROUTES) | set(NOT_SIGNING)
    assert not set(SIGNING_ROUTES) & set(NOT_SIGNING)


def test_external_bank_finances_through_prepare_and_submit_with_the_custodial_answer(
        world: World, tmp_path: Path) -> None:
    c = Cast(world)
    bank = External(world, tmp_path, "xbank", ["financier"], 10**9)
    offer_id = _offer(c, bank.address)
    # the custodial route cannot sign for it, and says what to do
    r = bank.api.post(f"/offers/{offer_id}/accept")
    assert r.status_code == 409 and r.json()["code"] == "external_signer_required", r.text
    assert "/prepare/offers" in r.json()["detail"] and bank.nonce() == 0

    first = bank.prepare(f"/offers/{offer_id}/accept")
    tx = first["transaction"]
    assert first["step"] == 0 and tx["from"] == bank.address and tx["nonce"] == "0"
    assert int(tx["chain_id"]) == world.platform.chain.chain_id() and int(tx["gas"]) > 0
    assert first["call"]["function"] == "approve"  # the price, on top of its reserve (0)
    assert first["call"]["args"]["value"] == "99000"
    assert "99000" in first["summary"]["en"] and "99000" in first["summary"]["zh-CN"]
    assert bank.nonce() == 0  # preparing sent nothing

    r = bank.submit(first["prepared_id"], bank.signer.sign(tx))
    assert r.status_code == 202, r.text  # approved on chain; the acceptance needs a signature
    second = r.json()
    assert second["step"] == 1 and second["request_id"] == first["request_id"]
    assert second["call"]["function"] == "acceptOffer" and len(second["submitted"]) == 1
    assert second["transaction"]["nonce"] == "1"
    r = bank.submit(second["prepared_id"], bank.signer.sign(second["transaction"]))
    assert r.status_code == 200, r.text
    financed = r.json()
    assert set(financed) == {"offer_id", "token_id", "value", "price", "tx"}  # FinancedOut
    assert financed["offer_id"] == offer_id and financed["price"] == "99000"
    assert bank.nonce() == 2
    token = bank.api.get(f"/tokens/{financed['token_id']}").json()
    assert token["owner"].lower() == bank.address.lower() and token["value"] == "100000"
    assert c.balance(bank.name) == 10**9 - 99_000

    # the same signed transaction again: the same answer, nothing sent (by transaction hash)
    again = bank.submit(second["prepared_id"], bank.signer.sign(second["transaction"]))
    assert again.status_code == 200 and again.json() == financed
    assert again.headers.get("Idempotent-Replayed") == "true" and bank.nonce() == 2
    # and the first step's transaction too: the request's answer
    again = bank.submit(first["prepared_id"], bank.signer.sign(tx))
    assert again.status_code == 200 and again.json() == financed and bank.nonce() == 2


def test_external_supplier_moves_value_with_the_sdk(world: World, tmp_path: Path) -> None:
    c = Cast(world)
    sup = External(world, tmp_path, "xsup", ["supplier"])
    slot, token = c.receivable(c.s1, c.s1_api, 1_000_000)
    r = c.s1_api.post(f"/tokens/{token}/transfer", {"to": sup.address})
    assert r.status_code == 200, r.text
    moved = sup.sdk.post(f"/tokens/{token}/split", {"to": c.s2, "value": "250000"})
    assert moved["from_token_id"] == str(token) and moved["value"] == "250000"
    assert c.s2_api.get(f"/tokens/{moved['token_id']}").json()["value"] == "250000"
    assert sup.api.get(f"/tokens/{token}").json()["value"] == "750000"
    assert sup.nonce() == 1 and _journaled(world, sup.name) == 1
    # a contract refusal is answered at prepare, as the custodial route answers it
    with pytest.raises(GatewayError) as err:
        sup.sdk.post(f"/tokens/{token}/split", {"to": c.s2, "value": "999999999"})
    assert err.value.status == 422 and err.value.code.startswith("contract_")
    assert sup.nonce() == 1


def test_tampered_or_foreign_signed_transactions_are_refused_and_nothing_is_sent(
        world: World, tmp_path: Path) -> None:
    c = Cast(world)
    bank = External(world, tmp_path, "xbank", ["financier"], 10**9)
    offer_id = _offer(c, bank.address)
    prepared = bank.prepare(f"/offers/{offer_id}/accept")
    tx = prepared["transaction"]
    own = Account.from_key(Account.decrypt(
        (tmp_path / f"{bank.name}.json").read_text(), PASSWORD))
    for field, value in (("value", "1"), ("to", c.world.address(c.s1)), ("gas", "21000"),
                         ("data", tx["data"][:-2] + "ff"), ("nonce", "7")):
        bad = signable({**tx, field: value})
        raw = "0x" + bytes(own.sign_transaction(bad).raw_transaction).hex()
        r = bank.submit(prepared["prepared_id"], raw)
        assert r.status_code == 422 and r.json()["code"] == "transaction_tampered", r.text
        assert r.json()["fields"] == [field]
    stranger = Account.create()
    raw = "0x" + bytes(stranger.sign_transaction(signable(tx)).raw_transaction).hex()
    r = bank.submit(prepared["prepared_id"], raw)
    assert r.status_code == 422 and r.json()["code"] == "wrong_signer", r.text
    r = bank.submit(prepared["prepared_id"], "0xdeadbeef")
    assert r.status_code == 422 and r.json()["code"] == "transaction_invalid", r.text
    # another participant cannot use the prepared id
    other = External(world, tmp_path, "xother", ["financier"])
    r = other.submit(prepared["prepared_id"], bank.signer.sign(tx))
    assert r.status_code == 404 and r.json()["code"] == "prepared_not_found", r.text
    assert bank.nonce() == 0 and _journaled(world, bank.name) == 0


def test_an_expired_preparation_is_refused_until_prepared_again(world: World,
                                                                tmp_path: Path) -> None:
    c = Cast(world)
    bank = External(world, tmp_path, "xbank", ["financier"], 10**9)
    offer_id = _offer(c, bank.address)
    prepared = bank.prepare(f"/offers/{offer_id}/accept")
    with world.platform.sessions() as s:
        s.execute(update(CustodyPrepared).where(CustodyPrepared.id == prepared["prepared_id"])
                  .values(expires_at=0.0))
        s.commit()
    r = bank.submit(prepared["prepared_id"], bank.signer.sign(prepared["transaction"]))
    assert r.status_code == 409 and r.json()["code"] == "prepared_expired", r.text
    assert bank.nonce() == 0
    assert bank.sdk.post(f"/offers/{offer_id}/accept")["offer_id"] == offer_id


def test_a_nonce_used_meanwhile_is_refused(world: World, tmp_path: Path) -> None:
    c = Cast(world)
    bank = External(world, tmp_path, "xbank", ["financier"], 10**9)
    offer_id = _offer(c, bank.address)
    prepared = bank.prepare(f"/offers/{offer_id}/accept")
    # the bank spends nonce 0 on something else, straight to the node
    own = Account.from_key(Account.decrypt(
        (tmp_path / f"{bank.name}.json").read_text(), PASSWORD))
    w3 = world.platform.chain.w3
    other = own.sign_transaction({**signable(prepared["transaction"]), "to": own.address,
                                  "data": b"", "gas": 21_000})
    w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(other.raw_transaction))
    r = bank.submit(prepared["prepared_id"], bank.signer.sign(prepared["transaction"]))
    assert r.status_code == 409 and r.json()["code"] == "nonce_moved_on", r.text
    assert bank.nonce() == 1 and _journaled(world, bank.name) == 0


def test_a_preparation_the_state_has_outrun_is_stale(world: World, tmp_path: Path) -> None:
    c = Cast(world)
    anchorer = External(world, tmp_path, "xlog", ["anchorer"])
    doc = {"kind": "invoice", "number": f"INV-{uuid.uuid4().hex[:8]}",
           "seller": world.address(c.s1), "buyer": world.address(c.core),
           "order_number": "PO-1", "amount": 100, "tax": 0, "issue_date": "2026-09-03"}
    assert c.s1_api.post("/evidence/documents", doc).status_code == 201
    prepared = anchorer.prepare("/evidence/batches")
    assert prepared["call"]["function"] == "anchor"
    # another document arrives: the batch (and so the root to anchor) is no longer the same
    assert c.s1_api.post("/evidence/documents", {**doc, "number": doc["number"] + "b"}
                         ).status_code == 201
    r = anchorer.submit(prepared["prepared_id"], anchorer.signer.sign(prepared["transaction"]))
    assert r.status_code == 409 and r.json()["code"] == "prepared_stale", r.text
    assert anchorer.nonce() == 0
    batch = anchorer.sdk.post("/evidence/batches")
    assert batch["count"] >= 2 and anchorer.nonce() == 1


def test_risk_gates_run_at_prepare_and_again_at_submit(world: World, tmp_path: Path) -> None:
    c = Cast(world)
    bank = External(world, tmp_path, "xbank", ["financier"], 10**9)
    offer_id = _offer(c, bank.address, value=100_000, price=50_000)  # a usurious discount

    def policy(mode: str) -> None:
        r = world.operator.post("/risk/policy", {"rate_ceiling": mode})
        assert r.status_code == 200, r.text

    policy("block")
    try:
        r = bank.api.client.post(f"/prepare/offers/{offer_id}/accept",
                                 headers=bank.api.headers())
        assert r.status_code == 422 and r.json()["code"] == "risk_gate_blocked", r.text
        policy("flag")
        prepared = bank.prepare(f"/offers/{offer_id}/accept")
        policy("block")  # the policy changes between prepare and submit
        r = bank.submit(prepared["prepared_id"], bank.signer.sign(prepared["transaction"]))
        assert r.status_code == 422 and r.json()["code"] == "risk_gate_blocked", r.text
        assert bank.nonce() == 0 and _journaled(world, bank.name) == 0
    finally:
        policy("flag")


def test_registration_and_prepare_are_for_external_participants_only(
        world: World, tmp_path: Path) -> None:
    c = Cast(world)
    r = world.operator.post("/participants", {"name": f"x-{uuid.uuid4().hex[:6]}",
                                              "display_name": "X", "roles": ["supplier"],
                                              "custody": "external"})
    assert r.status_code == 422 and r.json()["code"] == "validation_error", r.text
    taken = world.address(c.s1)
    r = world.operator.post("/participants", {"name": f"x-{uuid.uuid4().hex[:6]}",
                                              "display_name": "X", "roles": ["supplier"],
                                              "custody": "external", "address": taken})
    assert r.status_code == 409 and r.json()["code"] == "address_taken", r.text
    r = world.operator.post("/participants", {"name": f"x-{uuid.uuid4().hex[:6]}",
                                              "display_name": "X", "roles": ["supplier"],
                                              "address": taken})
    assert r.status_code == 422 and r.json()["code"] == "validation_error", r.text
    _, token = c.receivable(c.s1, c.s1_api, 1_000)
    r = c.s1_api.client.post(f"/prepare/tokens/{token}/split", json={"to": c.s2, "value": "1"},
                             headers=c.s1_api.headers())
    assert r.status_code == 409 and r.json()["code"] == "not_external", r.text
    sup = External(world, tmp_path, "xsup", ["supplier"])
    r = world.operator.post(f"/participants/{sup.name}/rotate-key")
    assert r.status_code == 422 and r.json()["code"] == "external_custody", r.text


def test_a_submit_cut_off_after_its_broadcast_is_finished_by_submitting_it_again(
        world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from scf_chain.errors import TransactionTimeout
    from scf_chain.platform.custody import ExternalSender

    c = Cast(world)
    sup = External(world, tmp_path, "xsup", ["supplier"])
    _, token = c.receivable(c.s1, c.s1_api, 1_000_000)
    assert c.s1_api.post(f"/tokens/{token}/transfer", {"to": sup.address}).status_code == 200
    prepared = sup.prepare(f"/tokens/{token}/split", {"to": c.s2, "value": "1000"})
    raw = sup.signer.sign(prepared["transaction"])
    real_wait = ExternalSender.wait

    def lost(self: ExternalSender, tx_hash: str, replay: Any = None) -> Any:
        raise TransactionTimeout(f"transaction {tx_hash} not mined in time")

    monkeypatch.setattr(ExternalSender, "wait", lost)
    r = sup.submit(prepared["prepared_id"], raw)
    assert r.status_code == 503 and r.json()["code"] == "outcome_pending", r.text
    assert _journaled(world, sup.name) == 1  # journaled before it was broadcast
    monkeypatch.setattr(ExternalSender, "wait", real_wait)
    r = sup.submit(prepared["prepared_id"], raw)  # resolved from the journal, not sent again
    assert r.status_code == 201, r.text
    assert r.json()["value"] == "1000" and r.json()["from_token_id"] == str(token)
    assert sup.nonce() == 1 and _journaled(world, sup.name) == 1


def test_an_external_debtor_confirms_repays_and_is_collected_through_the_sdk(
        world: World, tmp_path: Path) -> None:
    from tests.api.test_routes import _trade

    c = Cast(world)
    core = External(world, tmp_path, "xcore", ["debtor"], 10**9)
    r = world.operator.post(f"/participants/{core.name}/credit-limit", {"limit": str(10**12)})
    assert r.status_code == 200, r.text
    ids = {}
    for kind, doc in _trade(world, core.name, c.s1, uuid.uuid4().hex[:10], 1_000).items():
        r = c.s1_api.post("/evidence/documents", doc)
        assert r.status_code == 201, r.text
        ids[kind] = r.json()["doc_id"]
    assert c.log_api.post("/evidence/batches").status_code == 201
    r = c.s1_api.post("/receivables", {
        "debtor": core.name, "face_value": "1000", "maturity": world.platform.chain.now() + DAY,
        "invoice_doc_id": ids["invoice"], "order_doc_id": ids["order"],
        "delivery_doc_id": ids["delivery"]})
    assert r.status_code == 201, r.text
    slot = r.json()["slot"]

    steps: list[str] = []
    core.sdk.review = lambda p: steps.append(p.call["function"]) is None
    assert core.sdk.post(f"/receivables/{slot}/confirm")["face_value"] == "1000"
    repaid = core.sdk.post(f"/receivables/{slot}/repayments", {"amount": "400"})
    assert repaid["total_repaid"] == "400"
    assert core.sdk.post(f"/receivables/{slot}/collection", {"enabled": True})["tx_hash"]
    assert steps == ["confirm", "approve", "repay", "approve", "authorizeCollection"]
    allowance = core.api.get(f"/participants/{core.name}/balances").json()["tokens"][0]
    assert allowance["allowance"] == "600"  # what collection may still pull, no more

    world.operator.post("/dev/time-travel", {"seconds": 2 * DAY})
    report = world.platform.keeper().run_once()
    assert report.collected.get(int(slot)) == 600, report
    st = core.api.get(f"/receivables/{slot}/settlement").json()
    assert st["repaid"] == "1000" and st["collection"]["status"] == "collected", st
    assert c.balance(core.name) == 10**9 - 1_000 and core.nonce() == 5
