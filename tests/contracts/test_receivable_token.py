"""Every ReceivableToken function: the happy path and each revert, on the embedded chain."""

from __future__ import annotations

import pytest
from eth_utils import keccak

from scf_chain.chain import reverts
from scf_chain.errors import ContractRevert
from tests.contracts.harness import DEBTOR, FINANCIER, SUPPLIER, System, leaf_of

DAY = 86_400
FACE = 1_000_000_00


def _slot(s: System, face: int = FACE, days: int = 90, invoice: str = "INV-1") -> tuple[int, int]:
    slot = s.apply_and_confirm(s.holders[0], face, s.chain.now() + days * DAY, invoice)
    return slot, s.first_token_of(slot)


def _split(s: System, owner: str, token: int, to: str, value: int) -> int:
    return s.split(owner, token, to, value)


# -- issuance --------------------------------------------------------------------------------------
def test_confirm_mints_face_value_to_creditor_and_consumes_invoice(sys_: System) -> None:
    slot, token = _slot(sys_)
    a = sys_.holders[0]
    assert sys_.value_of(token) == FACE and sys_.owner_of(token) == a
    assert sys_.token.functions.slotOf(token).call() == slot
    assert sys_.token.functions.outstandingOf(sys_.debtor).call() == FACE
    key = keccak(text="invoice:INV-1")
    assert sys_.token.functions.invoiceKeyState(key).call() == 2
    assert sys_.token.functions.statusOf(slot).call() == 2  # Active


def test_nothing_is_minted_before_confirmation(sys_: System) -> None:
    slot = sys_.apply_only(sys_.holders[0], FACE, sys_.chain.now() + 30 * DAY, "INV-P")
    assert sys_.token.functions.statusOf(slot).call() == 1  # Pending
    assert sys_.token.get_function_by_signature("balanceOf(address)")(sys_.holders[0]).call() == 0


def test_only_the_named_debtor_confirms(sys_: System) -> None:
    slot = sys_.apply_only(sys_.holders[0], FACE, sys_.chain.now() + 30 * DAY, "INV-D")
    with pytest.raises(reverts.NotDebtor) as info:
        sys_.sender(sys_.holders[1]).transact(sys_.token.functions.confirm(slot))
    assert info.value.error_args == {"slot": slot, "caller": sys_.holders[1]}


def test_an_invoice_backs_one_receivable_ever(sys_: System) -> None:
    key, fields_root, root = sys_.anchor_invoice("INV-DUP")
    args = (sys_.debtor, sys_.holders[0], FACE, sys_.erc20.address, sys_.chain.now() + 30 * DAY,
            key, fields_root, root, [])
    sys_.sender(sys_.holders[0]).transact(sys_.token.functions.applyFor(*args))
    with pytest.raises(reverts.InvoiceAlreadyUsed):
        sys_.sender(sys_.holders[0]).transact(sys_.token.functions.applyFor(*args))


def test_rejected_application_frees_the_invoice(sys_: System) -> None:
    key, fields_root, root = sys_.anchor_invoice("INV-REJ")
    args = (sys_.debtor, sys_.holders[0], FACE, sys_.erc20.address, sys_.chain.now() + 30 * DAY,
            key, fields_root, root, [])
    rcpt = sys_.sender(sys_.holders[0]).transact(sys_.token.functions.applyFor(*args))
    slot = int(sys_.events(rcpt, "Applied")[0]["slot"])
    sys_.debtor_sender.transact(sys_.token.functions.reject(slot, keccak(text="wrong amount")))
    assert sys_.token.functions.statusOf(slot).call() == 3
    sys_.sender(sys_.holders[0]).transact(sys_.token.functions.applyFor(*args))  # usable again


def test_withdraw_by_initiator_only(sys_: System) -> None:
    slot = sys_.apply_only(sys_.holders[0], FACE, sys_.chain.now() + 30 * DAY, "INV-W")
    with pytest.raises(reverts.NotInitiator):
        sys_.debtor_sender.transact(sys_.token.functions.withdraw(slot))
    sys_.sender(sys_.holders[0]).transact(sys_.token.functions.withdraw(slot))
    with pytest.raises(reverts.NotPending):
        sys_.debtor_sender.transact(sys_.token.functions.confirm(slot))


def test_debtor_issue_then_creditor_accepts(sys_: System) -> None:
    key, fields_root, root = sys_.anchor_invoice("INV-ISSUE")
    rcpt = sys_.debtor_sender.transact(sys_.token.functions.issue(
        sys_.debtor, sys_.holders[1], FACE, sys_.erc20.address, sys_.chain.now() + 30 * DAY,
        key, fields_root, root, []))
    slot = int(sys_.events(rcpt, "Applied")[0]["slot"])
    with pytest.raises(reverts.NotCreditor):
        sys_.debtor_sender.transact(sys_.token.functions.confirm(slot))
    rcpt = sys_.sender(sys_.holders[1]).transact(sys_.token.functions.confirm(slot))
    token = int(sys_.events(rcpt, "Confirmed")[0]["tokenId"])
    assert sys_.owner_of(token) == sys_.holders[1]


@pytest.mark.parametrize("case", ["tenor", "past", "unit_zero", "token", "evidence", "proof", "role"])
def test_application_checks(sys_: System, case: str) -> None:
    key, fields_root, root = sys_.anchor_invoice(f"INV-{case}")
    now = sys_.chain.now()
    debtor, creditor, face, cur, maturity, proof = (sys_.debtor, sys_.holders[0], FACE,
                                                   sys_.erc20.address, now + 30 * DAY, [])
    expected = {"tenor": "TenorTooLong", "past": "InvalidMaturity", "unit_zero": "InvalidValue",
                "token": "SettlementTokenNotAllowed", "evidence": "InvalidEvidence",
                "proof": "InvalidEvidence", "role": "MissingRole"}[case]
    if case == "tenor":
        maturity = now + 181 * DAY
    elif case == "past":
        maturity = now - 1
    elif case == "unit_zero":
        face = 0
    elif case == "token":
        cur = sys_.token.address
    elif case == "evidence":
        fields_root = keccak(text="tampered")
    elif case == "proof":
        proof = [keccak(text="sibling")]
    elif case == "role":
        debtor = sys_.holders[1]
    with pytest.raises(ContractRevert) as info:
        sys_.sender(creditor).transact(sys_.token.functions.applyFor(
            debtor, creditor, face, cur, maturity, key, fields_root, root, proof))
    assert info.value.error_name == expected


def test_credit_limit_caps_outstanding_face_value(sys_: System) -> None:
    sys_.operator.transact(sys_.token.functions.setCreditLimit(sys_.debtor, FACE))
    _slot(sys_, FACE, invoice="INV-C1")
    slot2 = sys_.apply_only(sys_.holders[0], 100, sys_.chain.now() + 30 * DAY, "INV-C2")
    with pytest.raises(reverts.CreditLimitExceeded) as info:
        sys_.debtor_sender.transact(sys_.token.functions.confirm(slot2))
    assert info.value.error_args["outstanding"] == FACE


# -- policy ----------------------------------------------------------------------------------------
def test_policy_is_operator_only_and_capped_at_365_days(sys_: System) -> None:
    with pytest.raises(reverts.NotOperator):
        sys_.debtor_sender.transact(sys_.token.functions.setPolicy(1, 100 * DAY, True, True))
    with pytest.raises(reverts.TenorAboveCeiling):
        sys_.operator.transact(sys_.token.functions.setPolicy(1, 366 * DAY, True, True))
    sys_.operator.transact(sys_.token.functions.setPolicy(100, 365 * DAY, True, True))
    assert sys_.token.functions.policy().call() == [100, 365 * DAY, True, True]


def test_moves_need_registered_receivers(sys_: System) -> None:
    _, token = _slot(sys_)
    with pytest.raises(reverts.NotRegistered):
        _split(sys_, sys_.holders[0], token, sys_.outsider.address, 100)


def test_min_unit_and_split_switch(sys_: System) -> None:
    _, token = _slot(sys_)
    sys_.operator.transact(sys_.token.functions.setPolicy(100, 180 * DAY, False, True))
    with pytest.raises(reverts.InvalidValue):
        _split(sys_, sys_.holders[0], token, sys_.holders[1], 150)
    with pytest.raises(reverts.SplitNotAllowed):
        _split(sys_, sys_.holders[0], token, sys_.holders[1], 100)
    sys_.transfer_token(sys_.holders[0], sys_.holders[1], token)  # whole token still moves


def test_transfer_switch_keeps_parts_with_their_first_receiver(sys_: System) -> None:
    _, token = _slot(sys_)
    new = _split(sys_, sys_.holders[0], token, sys_.holders[1], 100)
    sys_.operator.transact(sys_.token.functions.setPolicy(1, 180 * DAY, True, False))
    with pytest.raises(reverts.TransferNotAllowed):
        _split(sys_, sys_.holders[1], new, sys_.holders[2], 50)
    _split(sys_, sys_.holders[0], token, sys_.holders[2], 50)  # the creditor still may


def test_nothing_moves_after_maturity_or_while_paused(sys_: System) -> None:
    _, token = _slot(sys_, days=10)
    sys_.operator.transact(sys_.token.functions.pause())
    with pytest.raises(reverts.EnforcedPause):
        _split(sys_, sys_.holders[0], token, sys_.holders[1], 100)
    sys_.operator.transact(sys_.token.functions.unpause())
    sys_.chain.time_travel(10 * DAY)
    with pytest.raises(reverts.SlotMatured):
        _split(sys_, sys_.holders[0], token, sys_.holders[1], 100)


# -- financing -------------------------------------------------------------------------------------
def test_accept_pays_holder_and_delivers_value_atomically(sys_: System) -> None:
    _, token = _slot(sys_)
    a = sys_.holders[0]
    before = sys_.erc20_balance(a), sys_.erc20_balance(sys_.bank)
    offer_id, escrow = sys_.offer(a, token, 200_000_00, 195_000_00, sys_.chain.now() + 5 * DAY)
    assert sys_.owner_of(escrow) == sys_.token.address
    with pytest.raises(reverts.TokenInEscrow):
        sys_.redeem(escrow)
    sys_.accept(offer_id)
    assert sys_.owner_of(escrow) == sys_.bank and sys_.value_of(escrow) == 200_000_00
    assert sys_.erc20_balance(a) == before[0] + 195_000_00
    assert sys_.erc20_balance(sys_.bank) == before[1] - 195_000_00
    with pytest.raises(reverts.OfferNotOpen):
        sys_.accept(offer_id)


def test_offer_checks_and_named_financier(sys_: System) -> None:
    _, token = _slot(sys_)
    a = sys_.holders[0]
    with pytest.raises(reverts.InvalidPrice):
        sys_.offer(a, token, 100, 101, sys_.chain.now() + DAY)
    with pytest.raises(reverts.NotTokenOwner):
        sys_.offer(sys_.holders[1], token, 100, 90, sys_.chain.now() + DAY)
    sys_.operator.transact(sys_.token.functions.setRoles(sys_.holders[2], SUPPLIER | FINANCIER))
    offer_id, _ = sys_.offer(a, token, 100, 90, sys_.chain.now() + DAY)
    with pytest.raises(reverts.NotOfferFinancier):
        sys_.sender(sys_.holders[2]).transact(sys_.token.functions.acceptOffer(offer_id))


def test_cancel_returns_value_and_expiry_unlocks_for_anyone(sys_: System) -> None:
    _, token = _slot(sys_)
    a = sys_.holders[0]
    offer_id, _ = sys_.offer(a, token, 300, 290, sys_.chain.now() + DAY)
    assert sys_.value_of(token) == FACE - 300
    with pytest.raises(reverts.NotOfferHolder):
        sys_.keeper.transact(sys_.token.functions.cancelOffer(offer_id))
    sys_.chain.time_travel(2 * DAY)
    with pytest.raises(reverts.OfferExpired):
        sys_.accept(offer_id)
    rcpt = sys_.keeper.transact(sys_.token.functions.cancelOffer(offer_id))
    assert int(sys_.events(rcpt, "OfferCancelled")[0]["returnedToTokenId"]) == token
    assert sys_.value_of(token) == FACE


def test_cancel_after_a_partial_redemption_returns_the_escrow_as_its_own_token(sys_: System) -> None:
    """Merged into a partly redeemed source, the escrowed value would take the source's checkpoint
    and be paid (R - R0)/(F - R0) of it instead of R/F."""
    slot, token = _slot(sys_, face=1000, days=30)
    a = sys_.holders[0]
    offer_id, escrow = sys_.offer(a, token, 300, 290, sys_.chain.now() + 20 * DAY)
    sys_.repay(slot, 500)
    sys_.chain.time_travel(31 * DAY)
    assert sys_.redeem(token) == 350  # 700 * 500 / 1000
    assert sys_.token.functions.checkpointOf(token).call() == 500
    assert sys_.cancel(a, offer_id) == escrow
    assert (sys_.owner_of(escrow), sys_.value_of(escrow), sys_.value_of(token)) == (a, 300, 350)
    assert sys_.redeem(escrow) == 150  # 300 * 500 / 1000, its fair share so far
    sys_.repay(slot, 500)
    assert sys_.redeem_batch([token, escrow]) == 500
    assert sys_.token.functions.statusOf(slot).call() == 7  # Settled


def test_partial_redemptions_keep_a_checkpoint_per_token(sys_: System) -> None:
    slot, token = _slot(sys_, face=1000, days=30)
    a, b, _ = sys_.holders
    tb = _split(sys_, a, token, b, 400)
    sys_.repay(slot, 100)
    sys_.chain.time_travel(31 * DAY)
    assert sys_.redeem(token) == 60
    sys_.repay(slot, 300)
    assert sys_.redeem(tb) == 160  # 400 * 400 / 1000: b's checkpoint is still 0
    assert sys_.redeem(token) == 180  # 540 * (400 - 100) / (1000 - 100)
    checkpoints = [sys_.token.functions.checkpointOf(t).call() for t in (token, tb)]
    assert checkpoints == [400, 400]
    assert [sys_.value_of(t) for t in (token, tb)] == [360, 240]
    assert sys_.owner_of(token) == a and sys_.owner_of(tb) == b


# -- repayment -------------------------------------------------------------------------------------
def test_partial_then_late_repayment_pays_every_holder_pro_rata(sys_: System) -> None:
    slot, token = _slot(sys_, face=1000, days=30)
    a, b, c = sys_.holders
    tb = _split(sys_, a, token, b, 300)
    tc = _split(sys_, a, token, c, 100)
    sys_.repay(slot, 500)
    with pytest.raises(reverts.NotMatured):
        sys_.redeem(token)
    sys_.chain.time_travel(31 * DAY)
    assert sys_.token.functions.statusOf(slot).call() == 6  # Overdue
    paid = sys_.redeem_batch([token, tb, tc])
    assert paid == 500
    assert [sys_.value_of(t) for t in (token, tb, tc)] == [300, 150, 50]
    sys_.repay(slot, 500)
    assert sys_.redeem_batch([token, tb, tc]) == 500
    assert sys_.token.functions.statusOf(slot).call() == 7  # Settled
    with pytest.raises(reverts.NonexistentToken):
        sys_.value_of(token)


def test_overpayment_and_zero_payment_revert(sys_: System) -> None:
    slot, _ = _slot(sys_, face=1000)
    with pytest.raises(reverts.Overpayment) as info:
        sys_.repay(slot, 1001)
    assert info.value.error_args["remaining"] == 1000
    with pytest.raises(reverts.ZeroAmount):
        sys_.repay(slot, 0)


def test_collect_needs_authorization_and_maturity(sys_: System) -> None:
    slot, token = _slot(sys_, face=1000, days=10)
    with pytest.raises(reverts.CollectionNotAuthorized):
        sys_.collect(slot)
    sys_.authorize_collection(slot)
    with pytest.raises(reverts.NotMatured):
        sys_.collect(slot)
    sys_.chain.time_travel(10 * DAY)
    assert sys_.collect(slot) == 1000
    with pytest.raises(reverts.Overpayment):
        sys_.repay(slot, 1)
    assert sys_.redeem(token) == 1000


def test_only_debtor_authorizes_collection(sys_: System) -> None:
    slot, _ = _slot(sys_)
    with pytest.raises(reverts.NotDebtor):
        sys_.sender(sys_.holders[0]).transact(sys_.token.functions.authorizeCollection(slot, True))


# -- evidence registry -----------------------------------------------------------------------------
def test_evidence_anchor_revoke_and_verify(sys_: System) -> None:
    key, fields_root, root = sys_.anchor_invoice("INV-EV")
    leaf = leaf_of(key, fields_root)
    ev = sys_.evidence.functions
    assert ev.verifyLeaf(root, leaf, []).call()
    with pytest.raises(reverts.AlreadyAnchored):
        sys_.anchorer.transact(ev.anchor(root, 3, 1, keccak(root)))
    with pytest.raises(reverts.NotAnchorer):
        sys_.debtor_sender.transact(ev.anchor(keccak(text="x"), 3, 1, keccak(text="m")))
    with pytest.raises(reverts.NotRootAuthority):
        sys_.debtor_sender.transact(ev.revokeLeaf(root, leaf, keccak(text="forged")))
    sys_.anchorer.transact(ev.revokeLeaf(root, leaf, keccak(text="forged")))
    assert not ev.verifyLeaf(root, leaf, []).call()
    with pytest.raises(reverts.InvalidEvidence):
        sys_.sender(sys_.holders[0]).transact(sys_.token.functions.applyFor(
            sys_.debtor, sys_.holders[0], FACE, sys_.erc20.address, sys_.chain.now() + DAY,
            key, fields_root, root, []))


def test_operator_role_transfer_is_two_step(sys_: System) -> None:
    new = sys_.holders[2]
    sys_.operator.transact(sys_.token.functions.transferOperator(new))
    with pytest.raises(reverts.NotPendingOperator):
        sys_.debtor_sender.transact(sys_.token.functions.acceptOperator())
    sys_.sender(new).transact(sys_.token.functions.acceptOperator())
    assert sys_.token.functions.operator().call() == new
    assert sys_.token.functions.rolesOf(sys_.debtor).call() == DEBTOR
