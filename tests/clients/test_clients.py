"""Typed clients: every operation returns typed results with decoded events; errors are typed."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from eth_utils import keccak

from scf_chain.chain import reverts
from scf_chain.clients import OfferStatus, ReceivableState, Role
from scf_chain.clients.contracts import decode_offer, decode_receivable
from scf_chain.contracts import artifacts
from scf_chain.devnet import DevNet
from scf_chain.errors import ChainError, ContractRevert

DAY = 86_400
FACE = 1_000_000_00


def _evidence(net: DevNet, number: str) -> tuple[bytes, bytes, bytes]:
    key, fields_root = keccak(text=f"invoice:{number}"), keccak(text=f"fields:{number}")
    leaf = keccak(b"\x00" + keccak(key + fields_root))
    net.evidence("logistics").anchor(leaf, 3, 1)
    return key, fields_root, leaf


def _confirmed(net: DevNet, number: str = "INV-1", face: int = FACE) -> tuple[int, int]:
    key, fields_root, root = _evidence(net, number)
    applied = net.token("supplier-a").apply_for(
        net.address("core"), net.address("supplier-a"), face, net.manifest.dev_settlement_token or "",
        net.chain.now() + 90 * DAY, key, fields_root, root, [])
    assert not applied.initiated_by_debtor
    confirmed = net.token("core").confirm(applied.slot)
    return applied.slot, confirmed.token_id


def test_devnet_registers_named_participants(net: DevNet) -> None:
    t = net.token("operator")
    assert t.roles_of(net.address("core")) == Role.DEBTOR
    assert t.roles_of(net.address("operator")) == Role.OPERATOR | Role.ANCHORER
    assert t.roles_of(net.address("keeper")) == Role.NONE
    assert net.settlement("core").balance_of(net.address("core")) == 10**13


def test_issue_split_finance_repay_redeem_through_clients(net: DevNet) -> None:
    slot, t_a = _confirmed(net)
    a, b, bank = net.token("supplier-a"), net.token("supplier-b"), net.token("bank")
    rec = a.get_receivable(slot)
    assert (rec.face_value, rec.creditor, rec.status) == (FACE, net.address("supplier-a"),
                                                          ReceivableState.ACTIVE)
    moved = a.split(t_a, net.address("supplier-b"), 300_000_00)
    assert moved.tx.named("TransferValue") and a.value_of(moved.to_token_id) == 300_000_00
    assert a.owner_of(moved.to_token_id) == net.address("supplier-b")
    t_c = b.split(moved.to_token_id, net.address("supplier-c"), 100_000_00).to_token_id
    extra = a.split(t_a, net.address("supplier-b"), 10_000_00).to_token_id
    merged = b.merge(extra, moved.to_token_id, 10_000_00)
    assert b.value_of(moved.to_token_id) == 210_000_00 and b.value_of(extra) == 0
    assert merged.tx.named("TransferValue")
    offered = a.offer(t_a, 200_000_00, net.address("bank"), 196_000_00, net.chain.now() + DAY,
                      keccak(text="registration"))
    assert a.get_offer(offered.offer_id).status == OfferStatus.OPEN
    net.settlement("bank").approve(net.manifest.receivable_token, offered.price)
    financed = bank.accept_offer(offered.offer_id)
    assert (financed.financier, financed.value, financed.price) == (
        net.address("bank"), 200_000_00, 196_000_00)
    assert a.owner_of(financed.token_id) == net.address("bank")
    core = net.token("core")
    net.settlement("core").approve(net.manifest.receivable_token, FACE)
    repaid = core.repay(slot, 400_000_00)
    assert (repaid.amount, repaid.total_repaid) == (400_000_00, 400_000_00)
    core.authorize_collection(slot)
    net.chain.time_travel(91 * DAY)
    assert core.status_of(slot) == ReceivableState.OVERDUE
    keeper = net.token("keeper")
    collected = keeper.collect(slot)
    assert collected.amount == 600_000_00 and collected.total_repaid == FACE
    tokens = [t_a, moved.to_token_id, extra, t_c, financed.token_id]
    redeemed = keeper.redeem_batch(tokens)
    assert redeemed.amount == FACE
    assert {r.holder for r in redeemed.redemptions} == {
        net.address(n) for n in ("supplier-a", "supplier-b", "supplier-c", "bank")}
    assert core.status_of(slot) == ReceivableState.SETTLED
    assert core.outstanding_of(net.address("core")) == 0


def test_contract_errors_arrive_typed_with_arguments(net: DevNet) -> None:
    slot, token = _confirmed(net)
    with pytest.raises(reverts.InsufficientAllowance) as info:
        net.token("supplier-b").split(token, net.address("supplier-c"), 1)
    assert isinstance(info.value, ContractRevert) and info.value.error_args
    with pytest.raises(reverts.InsufficientValue):
        net.token("supplier-a").split(token, net.address("supplier-b"), FACE + 1)
    with pytest.raises(reverts.NotOperator):
        net.token("supplier-a").set_roles(net.address("supplier-a"), Role.DEBTOR)
    with pytest.raises(reverts.NotAnchorer):
        net.evidence("supplier-a").anchor(keccak(text="x"), 3, 1)
    key, fields_root, root = _evidence(net, "INV-2")
    with pytest.raises(reverts.InvoiceAlreadyUsed):
        net.token("supplier-a").apply_for(
            net.address("core"), net.address("supplier-a"), FACE,
            net.manifest.dev_settlement_token or "", net.chain.now() + 30 * DAY,
            keccak(text="invoice:INV-1"), keccak(text="fields:INV-1"),
            keccak(b"\x00" + keccak(keccak(text="invoice:INV-1") + keccak(text="fields:INV-1"))), [])


def test_evidence_client_anchor_verify_revoke(net: DevNet) -> None:
    key, fields_root, leaf = _evidence(net, "INV-9")
    ev = net.evidence("logistics")
    root = ev.get_root(leaf)
    assert root.anchored and root.anchorer == net.address("logistics") and root.count == 1
    assert ev.verify_leaf(leaf, leaf, [])
    ev.revoke_leaf(leaf, leaf)
    assert ev.is_leaf_revoked(leaf, leaf) and not ev.verify_leaf(leaf, leaf, [])


def test_policy_and_pause_through_operator_client(net: DevNet) -> None:
    op = net.token("operator")
    op.set_policy(100, 120 * DAY, True, False)
    assert op.policy().max_tenor == 120 * DAY and not op.policy().transfer_allowed
    op.pause()
    assert op.paused()
    with pytest.raises(reverts.EnforcedPause):
        _confirmed(net, "INV-P")


def _reordered(abi: list[dict[str, Any]], function: str) -> list[dict[str, Any]]:
    """A synthetic ABI: `function`'s returned struct with its components in reverse order."""
    out = copy.deepcopy(abi)
    for item in out:
        if item.get("type") == "function" and item["name"] == function:
            item["outputs"][0]["components"].reverse()
    return out


def _struct(abi: list[dict[str, Any]], function: str) -> list[dict[str, Any]]:
    fn = next(i for i in abi if i.get("type") == "function" and i["name"] == function)
    return list(fn["outputs"][0]["components"])


def test_structs_decode_by_component_name_so_a_reorder_keeps_every_field() -> None:
    abi = artifacts.load("ReceivableToken").abi
    a1, a2 = "0x" + "11" * 20, "0x" + "22" * 20
    sample = {"holder": a1, "expiry": 1_900_000_000, "status": 1, "financier": a2,
              "sourceTokenId": 3, "escrowTokenId": 4, "value": 500, "price": 480,
              "registrationRef": b"\x07" * 32}
    assert [c["name"] for c in _struct(abi, "getOffer")] != sorted(sample)  # not trivially ordered
    as_built = tuple(sample[c["name"]] for c in _struct(abi, "getOffer"))
    reordered_abi = _reordered(abi, "getOffer")
    reordered = tuple(sample[c["name"]] for c in _struct(reordered_abi, "getOffer"))
    offer = decode_offer(abi, 9, as_built)
    assert offer == decode_offer(reordered_abi, 9, reordered)
    assert (offer.holder, offer.financier, offer.source_token_id, offer.escrow_token_id,
            offer.value, offer.price, offer.expiry, offer.status, offer.registration_ref) == (
        a1, a2, 3, 4, 500, 480, 1_900_000_000, OfferStatus(1), "0x" + "07" * 32)

    rec = {"debtor": a1, "maturity": 1_800_000_000, "status": 0, "initiatedByDebtor": True,
           "issuedAt": 1_700_000_000, "creditor": a2, "faceValue": 10_000,
           "settlementToken": "0x" + "33" * 20, "collectEnabled": False,
           "invoiceKey": b"\x01" * 32, "invoiceLeaf": b"\x02" * 32, "evidenceRoot": b"\x03" * 32,
           "repaid": 40, "paidOut": 30}
    reordered_abi = _reordered(abi, "getReceivable")
    got = decode_receivable(
        reordered_abi, 5, tuple(rec[c["name"]] for c in _struct(reordered_abi, "getReceivable")),
        ReceivableState(1))
    assert got == decode_receivable(
        abi, 5, tuple(rec[c["name"]] for c in _struct(abi, "getReceivable")), ReceivableState(1))
    assert (got.debtor, got.creditor, got.maturity, got.issued_at, got.face_value,
            got.initiated_by_debtor, got.collect_enabled, got.repaid, got.paid_out,
            got.invoice_key, got.evidence_root) == (
        a1, a2, 1_800_000_000, 1_700_000_000, 10_000, True, False, 40, 30,
        "0x" + "01" * 32, "0x" + "03" * 32)
    with pytest.raises(ChainError):
        decode_offer(abi, 9, as_built[:-1])  # a struct of another shape is refused
