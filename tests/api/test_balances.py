"""Balances (gas, settlement tokens, allowances), the insufficient_gas problem and dev funding."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.api.conftest import World


def _problem(r: Any, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = r.json()
    assert body["code"] == code and body["status"] == status, body
    return body


@pytest.fixture(scope="module")
def people(world: World) -> dict[str, Any]:
    out = {}
    for short, roles, funds in (("sup", ["supplier"], 0), ("bank", ["financier"], 12_345),
                                ("log", ["anchorer"], 0), ("aud", ["auditor"], 0)):
        out[short] = world.participant(f"bal-{short}", roles, funds)
    return out


def test_balances_for_the_participant_operator_and_auditors_only(
        world: World, people: dict[str, Any]) -> None:
    (sup, sup_api), (bank, bank_api), (_, aud_api) = people["sup"], people["bank"], people["aud"]
    mine = sup_api.get(f"/participants/{sup}/balances")
    assert mine.status_code == 200, mine.text
    body = mine.json()
    assert body["participant"] == sup and body["address"] == world.address(sup)
    assert body["spender"] == world.platform.manifest.receivable_token
    assert int(body["gas_wei"]) > 0 and isinstance(body["gas_wei"], str)
    tokens = {t["token"]: t for t in body["tokens"]}
    assert set(tokens) == set(world.platform.manifest.settlement_tokens)
    dev = world.platform.manifest.dev_settlement_token
    assert tokens[dev]["balance"] == "0" and tokens[dev]["allowance"] == "0"
    for viewer in (world.operator, aud_api, bank_api):
        r = viewer.get(f"/participants/{bank}/balances")
        assert r.status_code == 200, r.text
        bank_dev = {t["token"]: t for t in r.json()["tokens"]}[dev]
        assert bank_dev["balance"] == "12345"
        assert int(bank_dev["allowance"]) == world.platform.money(
            world.platform.operator_account, dev).allowance(
                world.address(bank), world.platform.manifest.receivable_token)
    # another participant does not learn them (nor that the name exists)
    _problem(sup_api.get(f"/participants/{bank}/balances"), 404, "not_found")
    _problem(world.operator.get("/participants/nobody-here/balances"), 404, "not_found")


def _drain(world: World, name: str) -> None:
    """Send a participant's gas away, leaving less than any contract call costs."""
    platform = world.platform
    account = platform.account(platform.participant(name))
    sender = platform.system.sender(account)
    balance = int(platform.chain.w3.eth.get_balance(account.address))
    fee = sender.max_fee_per_gas()
    sink = platform.chain.dev_accounts()[0].address
    sender.send(sink, b"", balance - 21_000 * fee, gas=21_000)
    assert int(platform.chain.w3.eth.get_balance(account.address)) < 10**14


def test_no_gas_is_insufficient_gas_and_a_dev_top_up_lets_the_request_through(
        world: World, people: dict[str, Any]) -> None:
    (log, log_api), (sup, sup_api) = people["log"], people["sup"]
    doc = {"kind": "purchase_order", "number": f"PO-{uuid.uuid4().hex[:8]}",
           "buyer": world.address(sup), "seller": world.address(sup), "issue_date": "2026-09-01",
           "amount": 100, "lines": [{"sku": "X", "quantity": 1, "unit_price": 100}]}
    assert sup_api.post("/evidence/documents", doc).status_code == 201
    _drain(world, log)
    refused = _problem(log_api.post("/evidence/batches"), 409, "insufficient_gas")
    assert refused["address"].lower() == world.address(log).lower()
    assert int(refused["balance_wei"]) < 10**14 and "POST /dev/fund" in refused["detail"]
    assert world.operator.get(f"/participants/{log}/balances").json()["gas_wei"] == \
        refused["balance_wei"]

    funded = world.operator.post("/dev/fund", {"participant": log, "wei": str(10**18)})
    assert funded.status_code == 200, funded.text
    assert int(funded.json()["gas_wei"]) >= 10**18 and len(funded.json()["tx_hashes"]) == 1
    again = log_api.post("/evidence/batches")
    assert again.status_code == 201, again.text
    assert again.json()["count"] >= 1


def test_dev_fund_mints_settlement_money(world: World, people: dict[str, Any]) -> None:
    sup, sup_api = people["sup"]
    before = int(world.operator.get(f"/participants/{sup}/balances").json()["tokens"][0]["balance"])
    r = world.operator.post("/dev/fund", {"participant": sup, "settlement": "5000"})
    assert r.status_code == 200, r.text
    dev = world.platform.manifest.dev_settlement_token
    after = {t["token"]: t for t in sup_api.get(f"/participants/{sup}/balances").json()["tokens"]}
    assert int(after[dev]["balance"]) == before + 5000


def test_dev_fund_is_for_the_operator_on_dev_chains_only(
        world: World, people: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    sup, sup_api = people["sup"]
    _problem(sup_api.post("/dev/fund", {"participant": sup, "wei": "1"}), 403, "forbidden")
    _problem(world.operator.post("/dev/fund", {"participant": sup}), 422, "nothing_to_fund")
    _problem(world.operator.post("/dev/fund", {"participant": "nobody-here", "wei": "1"}), 404,
             "not_found")
    # a production chain: the node has no funded dev accounts
    monkeypatch.setattr(world.platform.chain, "dev_accounts", lambda: [])
    _problem(world.operator.post("/dev/fund", {"participant": sup, "wei": "1"}), 409,
             "not_a_dev_chain")


def test_the_sender_refuses_without_gas_typed_and_keeps_its_nonce(embedded_chain: Any) -> None:
    from eth_account import Account

    from scf_chain.chain.sender import TxSender
    from scf_chain.errors import InsufficientGas

    poor = Account.create()
    sender = TxSender(embedded_chain, poor)
    sink = embedded_chain.dev_accounts()[0].address
    # estimated gas: the node refuses at estimation
    with pytest.raises(InsufficientGas) as est:
        sender.send(sink, b"\x01", 0)
    assert est.value.address == poor.address and est.value.balance_wei == 0
    assert est.value.needed_wei > 0
    # given gas: the node refuses the signed transaction, which never happened
    with pytest.raises(InsufficientGas) as sent:
        sender.send(sink, b"\x01", 0, gas=50_000)
    assert sent.value.needed_wei == 50_000 * sender.max_fee_per_gas()
    assert sender.next_nonce == 0
    TxSender(embedded_chain, embedded_chain.dev_accounts()[0]).send(poor.address, b"", 10**17)
    assert sender.send(sink, b"\x01", 0).tx_hash
    assert sender.next_nonce == 1
