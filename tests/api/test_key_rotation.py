"""Key rotation in the middle of a receivable's life (issue 12 item 4): a debtor's new key takes
its open receivables over and repays them, keepers collect from it; the operator hands its role
to a new key and keeps operating. Through HTTP, on the embedded chain, a deployment of its own
(this module's `world`), since the operator's key changes."""

from __future__ import annotations

import copy
import uuid
from typing import Any

import pytest
from eth_utils import keccak

from scf_chain.chain import reverts
from scf_chain.clients import Role
from scf_chain.db.models import RiskDebtor
from scf_chain.keys import KeyStore
from scf_chain.platform.core import OPERATOR
from tests.api.conftest import World
from tests.api.test_routes import _problem, _receivable, _trade, make_cast

pytestmark = pytest.mark.xdist_group(__name__)
DAY = 86_400


@pytest.fixture(scope="module")
def cast(world: World) -> dict[str, Any]:
    return make_cast(world, 10**7)


def _money(world: World, address: str) -> int:
    p = world.platform
    return p.money(p.operator_account).balance_of(address)


def _apply(world: World, cast: dict[str, Any], face: int) -> int:
    """An application naming the core enterprise, not confirmed."""
    (core, _), (a, a_api) = cast["core"], cast["a"]
    docs = _trade(world, core, a, uuid.uuid4().hex[:8], amount=face)
    ids = {k: a_api.post("/evidence/documents", d).json()["doc_id"] for k, d in docs.items()}
    assert cast["log"][1].post("/evidence/batches").status_code == 201
    r = a_api.post("/receivables", {"debtor": core, "face_value": str(face),
                                    "maturity": world.platform.chain.now() + 90 * DAY,
                                    "invoice_doc_id": ids["invoice"], "order_doc_id": ids["order"],
                                    "delivery_doc_id": ids["delivery"]})
    assert r.status_code == 201, r.text
    return int(r.json()["slot"])


def _new_debtor(world: World, prefix: str) -> tuple[str, Any]:
    """A debtor with gas money and a credit limit of 1,000,000: (name, API client)."""
    debtor, api = world.participant(prefix, ["debtor"], funds=10**6)
    assert world.operator.post(f"/participants/{debtor}/credit-limit",
                               {"limit": "1000000"}).status_code == 200
    return debtor, api


def _confirmed(world: World, cast: dict[str, Any], debtor: tuple[str, Any], face: int) -> int:
    """A receivable of `face` on `debtor`, applied for by supplier a and confirmed."""
    slot = _apply(world, {**cast, "core": debtor}, face)
    assert debtor[1].post(f"/receivables/{slot}/confirm").status_code == 200
    return slot


def test_a_debtor_rotated_mid_life_repays_and_is_collected_from_its_new_key(
        world: World, cast: dict[str, Any]) -> None:
    p = world.platform
    (core, core_api), (a, a_api), (b, b_api), (bank, bank_api) = (
        cast["core"], cast["a"], cast["b"], cast["bank"])
    slot, token = _receivable(world, cast, face=300_000)  # confirmed
    r = a_api.post(f"/tokens/{token}/split", {"to": b, "value": "100000"})  # split
    assert r.status_code == 201, r.text
    part = int(r.json()["token_id"])
    offer = b_api.post("/offers", {"token_id": str(part), "value": "40000", "financier": bank,
                                   "price": "39000", "expiry": p.chain.now() + 10 * DAY})
    assert offer.status_code == 201, offer.text
    r = bank_api.post(f"/offers/{offer.json()['offer_id']}/accept")  # part financed
    assert r.status_code == 200, r.text
    assert core_api.post(f"/receivables/{slot}/repayments", {"amount": "20000"}).status_code == 200
    r = core_api.post(f"/receivables/{slot}/collection", {"enabled": True})
    assert r.status_code == 200, r.text
    pending = _apply(world, cast, 50_000)  # an application the core has not confirmed yet
    parties = [world.address(n) for n in (core, a, b, bank)]
    contract = p.manifest.receivable_token
    total_before = sum(_money(world, x) for x in parties) + _money(world, contract)
    old = world.address(core)
    op = p.token(p.operator_account)
    allowance = p.money(p.operator_account).allowance(old, contract)
    assert allowance == 280_000  # the collection reserve: what is owed on the authorized slot

    r = world.operator.post(f"/participants/{core}/rotate-key")
    assert r.status_code == 200, r.text
    rot = r.json()
    new = rot["new_address"]
    assert [int(s) for s in rot["debts_moved"]] == [slot, pending]
    assert {int(v) for v in rot["allowances_given"].values()} == {allowance}
    assert world.address(core) == new
    # on chain: both receivables name the new key; the outstanding total and the credit limit
    # went with them; the old key has no role, no limit, no money, no allowance
    assert {op.get_receivable(s).debtor.lower() for s in (slot, pending)} == {new}
    assert (op.outstanding_of(new), op.outstanding_of(old)) == (280_000, 0)
    assert (op.credit_limit_of(new), op.credit_limit_of(old)) == (10**7, 0)
    assert int(op.roles_of(old)) == 0 and op.roles_of(new) == Role.DEBTOR
    assert _money(world, old) == 0
    assert p.money(p.operator_account).allowance(new, contract) == allowance
    assert p.money(p.operator_account).allowance(old, contract) == 0
    # the store followed the DebtorMoved events, risk exposure too
    listed = core_api.get("/receivables", params={"status": "active", "limit": 100}).json()
    assert any(int(i["slot"]) == slot and i["debtor"].lower() == new for i in listed["items"])
    with p.sessions() as s:
        exposure = {a: s.get(RiskDebtor, a) for a in (old, new)}
        assert {a: d.outstanding_face for a, d in exposure.items() if d is not None} == {
            old: 0, new: 280_000}

    # the new key confirms the moved application and repays, through the same API key
    r = core_api.post(f"/receivables/{pending}/confirm")
    assert r.status_code == 200, r.text
    r = core_api.post(f"/receivables/{slot}/repayments", {"amount": "30000"})
    assert r.status_code == 200, r.text
    assert r.json()["total_repaid"] == "50000"
    # at maturity the keeper collects the rest from the new key and pays every holder
    world.operator.post("/dev/time-travel", {"seconds": 61 * DAY})
    holders = {a: 200_000, b: 60_000, bank: 40_000}
    before = {n: _money(world, world.address(n)) for n in holders}
    report = p.keeper().run_once()
    assert report.collected.get(slot) == 250_000, report
    st = a_api.get(f"/receivables/{slot}/settlement").json()
    assert st["repaid"] == "300000" and st["paid_out"] == "300000", st
    paid = {n: _money(world, world.address(n)) - before[n] for n in holders}
    assert paid == holders  # every holder whole: pro rata of what was repaid, all of it
    assert op.outstanding_of(new) == 50_000  # the confirmed application is owed
    total_after = sum(_money(world, x) for x in [*parties, new]) + _money(world, contract)
    assert total_after == total_before  # money moved, none appeared or vanished
    rec = cast["aud"][1].get("/audit/reconcile").json()
    assert rec["clean"], rec["differences"]


def test_a_rotation_with_many_debts_moves_them_in_chunks(world: World,
                                                        cast: dict[str, Any]) -> None:
    from scf_chain.platform import rotation

    p = world.platform
    debtor, debtor_api = _new_debtor(world, "many")
    slots = []
    for _ in range(rotation.MOVE_CHUNK + 2):
        slots.append(_confirmed(world, cast, (debtor, debtor_api), 1_000))
    r = world.operator.post(f"/participants/{debtor}/rotate-key")
    assert r.status_code == 200, r.text
    rot = r.json()
    assert sorted(int(s) for s in rot["debts_moved"]) == slots
    selector = keccak(text="moveDebts(address,uint256[])")[:4]
    moves = [h for h in rot["tx_hashes"]
             if bytes(p.chain.w3.eth.get_transaction(h)["input"])[:4] == selector]
    assert len(moves) == 2  # MOVE_CHUNK slots, then the rest
    op = p.token(p.operator_account)
    assert op.outstanding_of(rot["new_address"]) == 1_000 * len(slots)


def test_a_debtor_rotation_cut_off_midway_is_finished_by_calling_again(
        world: World, cast: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    from scf_chain.clients.contracts import ReceivableTokenClient
    from scf_chain.errors import ChainError

    p = world.platform
    debtor, debtor_api = _new_debtor(world, "cutdebt")
    slot = _confirmed(world, cast, (debtor, debtor_api), 1_000)
    old = world.address(debtor)
    real = ReceivableTokenClient.move_debts

    def node_dies(self: Any, who: str, slots: Any) -> Any:
        raise ChainError("connection to the node lost")

    monkeypatch.setattr(ReceivableTokenClient, "move_debts", node_dies)
    key = str(uuid.uuid4())
    r = world.operator.post(f"/participants/{debtor}/rotate-key", idem=key)
    assert r.status_code == 503, r.text  # the offer was sent: the outcome is pending
    assert world.address(debtor) == old
    monkeypatch.setattr(ReceivableTokenClient, "move_debts", real)
    r = world.operator.post(f"/participants/{debtor}/rotate-key", idem=key)
    assert r.status_code == 200, r.text
    rot = r.json()
    assert rot["resumed"] and [int(s) for s in rot["debts_moved"]] == [slot]
    op = p.token(p.operator_account)
    assert op.get_receivable(slot).debtor.lower() == rot["new_address"]
    assert op.outstanding_of(rot["new_address"]) == 1_000 and op.outstanding_of(old) == 0


def test_rotation_still_refuses_what_cannot_move(world: World, cast: dict[str, Any]) -> None:
    # the creditor of a pending application: only its address may withdraw it
    sup, sup_api = world.participant("pendingsup", ["supplier"])
    _apply(world, {**cast, "a": (sup, sup_api)}, 1_000)
    body = _problem(world.operator.post(f"/participants/{sup}/rotate-key"), 409,
                    "rotation_blocked")
    assert "pending applications" in body["detail"]
    _problem(world.operator.post("/participants/nobody/rotate-key"), 404)


def test_the_operator_hands_over_to_a_new_key_and_keeps_operating(
        world: World, cast: dict[str, Any]) -> None:
    p = world.platform
    old = p.operator_account
    # another process sharing the keystore (a gateway worker): its own KeyStore, key cached
    other = copy.copy(p)
    other.keys = KeyStore(p.keys.path, p.settings.keystore_password,
                          iterations=p.settings.keystore_scrypt_n)
    assert other.keys.account(OPERATOR).address == old.address
    object.__setattr__(other, "_operator", other.keys.account(OPERATOR))
    root = _anchored_root(world, cast)

    _problem(cast["a"][1].post(f"/participants/{OPERATOR}/rotate-key"), 403, "forbidden")
    r = world.operator.post(f"/participants/{OPERATOR}/rotate-key")
    assert r.status_code == 200, r.text
    rot = r.json()
    new = rot["new_address"]
    assert rot["old_address"] == old.address.lower() and new != rot["old_address"]
    # on chain the operator and its role bit moved; the old key holds nothing
    op = p.token(p.operator_account)
    assert p.operator_account.address.lower() == new
    assert op.operator().lower() == new and op.roles_of(new) == Role.OPERATOR
    assert int(op.roles_of(old.address)) == 0
    assert world.address(OPERATOR) == new
    # the other process signs with the new key on its next operator call
    assert other.operator_account.address.lower() == new
    # the operator's API key still works, and its new key signs: register and set a limit
    who, _ = world.participant("after-op", ["debtor"], funds=1_000)  # dev funds still minted
    r = world.operator.post(f"/participants/{who}/credit-limit", {"limit": "5000"})
    assert r.status_code == 200, r.text
    assert op.credit_limit_of(world.address(who)) == 5000
    assert _money(world, world.address(who)) == 1_000
    # the old key is refused on chain
    with pytest.raises(reverts.NotOperator):
        p.token(old).set_credit_limit(world.address(who), 1)
    # the evidence registry asks the token for its operator: the new key may revoke
    with pytest.raises(reverts.NotRootAuthority):
        p.evidence_registry(old).revoke_root(root)
    p.evidence_registry(p.operator_account).revoke_root(root)
    assert p.evidence_registry(p.operator_account).get_root(root).revoked
    rec = cast["aud"][1].get("/audit/reconcile").json()
    assert rec["clean"], rec["differences"]


def test_an_operator_hand_over_cut_off_midway_keeps_the_old_key_until_finished(
        world: World, cast: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    from scf_chain.clients.contracts import ReceivableTokenClient
    from scf_chain.errors import ChainError

    p = world.platform
    old = p.operator_account
    real = ReceivableTokenClient.accept_operator

    def node_dies(self: Any) -> Any:
        raise ChainError("connection to the node lost")

    monkeypatch.setattr(ReceivableTokenClient, "accept_operator", node_dies)
    key = str(uuid.uuid4())
    r = world.operator.post(f"/participants/{OPERATOR}/rotate-key", idem=key)
    assert r.status_code == 503, r.text  # transferOperator was sent: the outcome is pending
    op = p.token(old)
    assert op.operator() == old.address and op.pending_operator() != old.address
    # the keystore holds the new key already; the old one signs while the chain names it
    assert p.keys.address_of(OPERATOR) != old.address
    assert p.operator_account.address == old.address
    assert p._signing_operator().address == old.address  # as a process opened now would pick
    who, _ = world.participant("during-op", ["supplier"])  # the operator still operates
    assert op.roles_of(world.address(who)) == Role.SUPPLIER
    monkeypatch.setattr(ReceivableTokenClient, "accept_operator", real)
    r = world.operator.post(f"/participants/{OPERATOR}/rotate-key", idem=key)
    assert r.status_code == 200, r.text
    rot = r.json()
    assert rot["resumed"] and rot["old_address"] == old.address.lower()
    assert p.operator_account.address.lower() == rot["new_address"]
    now = p.token(p.operator_account)  # (the old key's gas went to the new one: read as new)
    assert now.operator().lower() == rot["new_address"] and int(now.roles_of(old.address)) == 0


def _anchored_root(world: World, cast: dict[str, Any]) -> str:
    (core, _), (a, a_api) = cast["core"], cast["a"]
    docs = _trade(world, core, a, uuid.uuid4().hex[:8])
    assert a_api.post("/evidence/documents", docs["invoice"]).status_code == 201
    r = cast["log"][1].post("/evidence/batches")
    assert r.status_code == 201, r.text
    return str(r.json()["root"])


def test_the_cli_rotates_a_debtor_and_reports_refusals(
        world: World, cast: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from scf_chain.cli import app
    from scf_chain.platform.core import Platform

    p = world.platform
    debtor, debtor_api = _new_debtor(world, "clidebt")
    slot = _confirmed(world, cast, (debtor, debtor_api), 2_000)
    old = world.address(debtor)
    monkeypatch.setattr(Platform, "open", classmethod(lambda cls, *a, **k: p))
    monkeypatch.setattr(p, "close", lambda: None)  # the module's platform outlives the command
    done = CliRunner().invoke(app, ["keys", "rotate-key", debtor])
    assert done.exit_code == 0, done.output
    new = world.address(debtor)
    assert f"{debtor}: {old} -> {new}" in done.output and "debts moved: 1 receivables" in done.output
    assert p.token(p.operator_account).get_receivable(slot).debtor.lower() == new
    refused = CliRunner().invoke(app, ["keys", "rotate-key", "nobody"])
    assert refused.exit_code == 2 and "no participant named 'nobody'" in refused.output
