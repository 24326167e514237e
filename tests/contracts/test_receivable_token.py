"""Every ReceivableToken function: the happy path and each revert, on the embedded chain."""

from __future__ import annotations

import pytest
from eth_utils import keccak

from scf_chain.chain import reverts
from scf_chain.errors import ContractRevert
from tests.contracts.harness import DEBTOR, FINANCIER, OPERATOR, SUPPLIER, System, leaf_of

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


def test_accepting_the_operator_role_moves_its_role_bit(sys_: System) -> None:
    t = sys_.token.functions
    new = sys_.outsider.address  # never registered: it gets a participant id with the role
    sys_.operator.transact(t.transferOperator(new))
    assert t.rolesOf(sys_.operator.address).call() == OPERATOR  # in office until accepted
    rcpt = sys_.outsider.transact(t.acceptOperator())
    assert t.rolesOf(new).call() == OPERATOR and t.hasRole(new, OPERATOR).call()
    assert t.rolesOf(sys_.operator.address).call() == 0
    assert [(e["account"], e["roles"]) for e in sys_.events(rcpt, "RolesSet")] == [
        (sys_.operator.address, 0), (new, OPERATOR)]
    assert t.pendingOperator().call() == "0x" + "0" * 40
    with pytest.raises(reverts.NotOperator):  # the old key is refused on chain
        sys_.operator.transact(t.setCreditLimit(sys_.debtor, 1))
    sys_.outsider.transact(t.setRoles(sys_.keeper.address, DEBTOR))
    sys_.outsider.transact(t.setCreditLimit(sys_.keeper.address, FACE))
    assert t.creditLimitOf(sys_.keeper.address).call() == FACE
    with pytest.raises(reverts.NotPendingOperator):  # accepted once
        sys_.outsider.transact(t.acceptOperator())


# -- moving a debtor's receivables to its new key -------------------------------------------------
def _successor(s: System, limit: int = 10**15) -> str:
    """The keeper's account as the debtor's new key: a debtor with a credit limit and money."""
    new = s.keeper.address
    s.operator.transact(s.token.functions.setRoles(new, DEBTOR))
    s.operator.transact(s.token.functions.setCreditLimit(new, limit))
    s.operator.transact(s.erc20.functions.mint(new, 10**9))
    return new


def test_a_debtor_move_mid_life_is_repaid_and_collected_from_the_new_key(sys_: System) -> None:
    t = sys_.token.functions
    a, b = sys_.holders[0], sys_.holders[1]
    slot, token = _slot(sys_, face=1000, days=10)
    part = _split(sys_, a, token, b, 400)
    offer_id, escrow = sys_.offer(b, part, 100, 90, sys_.chain.now() + 5 * DAY)
    sys_.accept(offer_id)  # part financed
    pending = sys_.apply_only(a, 500, sys_.chain.now() + 20 * DAY, "INV-MOVE-P")
    sys_.authorize_collection(slot)
    sys_.repay(slot, 100)  # the old key paid some before the move
    new = _successor(sys_)
    sys_.debtor_sender.transact(t.offerDebtorMove(new))
    assert t.debtorSuccessorOf(sys_.debtor).call() == new
    rcpt = sys_.operator.transact(t.moveDebts(sys_.debtor, [slot, pending]))
    assert [(e["slot"], e["from"], e["to"], e["outstanding"])
            for e in sys_.events(rcpt, "DebtorMoved")] == [
        (slot, sys_.debtor, new, 900), (pending, sys_.debtor, new, 0)]
    assert t.getReceivable(slot).call()[0] == new and t.getReceivable(pending).call()[0] == new
    assert t.outstandingOf(sys_.debtor).call() == 0 and t.outstandingOf(new).call() == 900
    with pytest.raises(reverts.NotDebtor):  # the old key no longer acts as the debtor
        sys_.debtor_sender.transact(t.confirm(pending))
    me = sys_.sender(new)
    me.transact(t.confirm(pending))  # the new key confirms the moved application
    assert t.outstandingOf(new).call() == 1400
    me.transact(sys_.erc20.functions.approve(sys_.token.address, 2**256 - 1))
    me.transact(t.repay(slot, 300))
    before = sys_.erc20_balance(new)
    sys_.chain.time_travel(10 * DAY)
    assert sys_.collect(slot) == 600  # collection at maturity pulls from the new key
    assert sys_.erc20_balance(new) == before - 600
    assert t.outstandingOf(new).call() == 500
    paid = {tok: sys_.redeem(tok) for tok in (token, part, escrow)}
    assert paid == {token: 600, part: 300, escrow: 100}  # every holder whole, pro rata
    assert sys_.repaid_paid_out(slot) == (1000, 1000)


def test_a_debtor_move_needs_the_old_keys_offer_and_the_operator(sys_: System) -> None:
    t = sys_.token.functions
    slot, _ = _slot(sys_, face=1000)
    new = sys_.keeper.address
    with pytest.raises(reverts.NoDebtorSuccessor) as no_offer:
        sys_.operator.transact(t.moveDebts(sys_.debtor, [slot]))
    assert no_offer.value.error_args == {"debtor": sys_.debtor}
    with pytest.raises(reverts.InvalidSuccessor):
        sys_.debtor_sender.transact(t.offerDebtorMove(sys_.debtor))
    sys_.debtor_sender.transact(t.offerDebtorMove(new))
    with pytest.raises(reverts.NotOperator):  # the old key alone cannot move its debts
        sys_.debtor_sender.transact(t.moveDebts(sys_.debtor, [slot]))
    with pytest.raises(reverts.MissingRole) as role:  # the successor is no debtor yet
        sys_.operator.transact(t.moveDebts(sys_.debtor, [slot]))
    assert role.value.error_args == {"account": new, "role": DEBTOR}
    sys_.operator.transact(t.setRoles(new, DEBTOR))
    with pytest.raises(reverts.CreditLimitExceeded) as limit:  # the operator sets it first
        sys_.operator.transact(t.moveDebts(sys_.debtor, [slot]))
    assert limit.value.error_args == {"debtor": new, "limit": 0, "outstanding": 0,
                                      "faceValue": 1000}
    sys_.operator.transact(t.setCreditLimit(new, 1000))
    with pytest.raises(reverts.NotDebtor) as not_its:  # every listed slot must be the debtor's
        sys_.operator.transact(t.moveDebts(sys_.debtor, [slot, slot + 1]))
    assert not_its.value.error_args == {"slot": slot + 1, "caller": sys_.debtor}
    assert t.getReceivable(slot).call()[0] == sys_.debtor  # all or none
    sys_.debtor_sender.transact(t.offerDebtorMove("0x" + "0" * 40))  # the offer withdrawn
    with pytest.raises(reverts.NoDebtorSuccessor):
        sys_.operator.transact(t.moveDebts(sys_.debtor, [slot]))
    sys_.debtor_sender.transact(t.offerDebtorMove(new))
    sys_.operator.transact(t.pause())  # a key is replaced during an incident's pause too
    sys_.operator.transact(t.moveDebts(sys_.debtor, [slot]))
    with pytest.raises(reverts.NotDebtor):  # moved: the old debtor no longer names it
        sys_.operator.transact(t.moveDebts(sys_.debtor, [slot]))


@pytest.mark.parametrize("case", ["repaid", "rejected", "withdrawn"])
def test_only_open_debts_move(sys_: System, case: str) -> None:
    t = sys_.token.functions
    if case == "repaid":
        slot, _ = _slot(sys_, face=1000)
        sys_.repay(slot, 1000)
    else:
        slot = sys_.apply_only(sys_.holders[0], 1000, sys_.chain.now() + 30 * DAY, f"INV-{case}")
        if case == "rejected":
            sys_.debtor_sender.transact(t.reject(slot, keccak(text="no")))
        else:
            sys_.sender(sys_.holders[0]).transact(t.withdraw(slot))
    new = _successor(sys_)
    sys_.debtor_sender.transact(t.offerDebtorMove(new))
    with pytest.raises(reverts.DebtNotOpen) as info:
        sys_.operator.transact(t.moveDebts(sys_.debtor, [slot]))
    assert info.value.error_args == {"slot": slot}
