"""The reentrancy guard holds on both builds (transient storage on Cancun, a storage word on
Paris): a settlement token that calls back into the token is stopped, and nothing moves."""

from __future__ import annotations

from typing import Any

import pytest

from scf_chain.chain import reverts
from scf_chain.contracts import artifacts
from tests.contracts.harness import System

DAY = 86_400


def _hostile_receivable(s: System, face: int) -> tuple[Any, int]:
    """A confirmed receivable settled in ReentrantSettlementToken, the debtor funded and approved."""
    art = artifacts.load("ReentrantSettlementToken", s.evm_version)
    address = s.operator.deploy(art.abi, art.bytecode).contract_address
    hostile = s.chain.w3.eth.contract(address=address, abi=art.abi)
    s.operator.transact(s.token.functions.setSettlementToken(address, True))
    s.operator.transact(hostile.functions.mint(s.debtor, face))
    s.debtor_sender.transact(hostile.functions.approve(s.token.address, face))
    key, fields_root, root = s.anchor_invoice(f"INV-REENTRY-{s.evm_version}")
    creditor = s.holders[0]
    rcpt = s.sender(creditor).transact(s.token.functions.applyFor(
        s.debtor, creditor, face, address, s.chain.now() + 30 * DAY, key, fields_root, root, []))
    slot = int(s.events(rcpt, "Applied")[0]["slot"])
    s.debtor_sender.transact(s.token.functions.confirm(slot))
    return hostile, slot


@pytest.mark.parametrize("reentry", ["repay", "collect"])
def test_a_settlement_token_cannot_reenter_the_token(sys_: System, reentry: str) -> None:
    hostile, slot = _hostile_receivable(sys_, 1_000_00)
    fn = (sys_.token.functions.repay(slot, 1) if reentry == "repay"
          else sys_.token.functions.collect(slot))
    sys_.operator.transact(hostile.functions.arm(fn._encode_transaction_data()))
    with pytest.raises(reverts.ReentrancyGuardReentrantCall):
        sys_.debtor_sender.transact(sys_.token.functions.repay(slot, 400_00))
    assert sys_.repaid_paid_out(slot) == (0, 0)
    assert hostile.functions.balanceOf(sys_.debtor).call() == 1_000_00
    # disarmed, the same repayment goes through: the guard, not the token, refused it
    sys_.operator.transact(hostile.functions.arm(b""))
    sys_.debtor_sender.transact(sys_.token.functions.repay(slot, 400_00))
    assert sys_.repaid_paid_out(slot) == (400_00, 0)
    assert hostile.functions.balanceOf(sys_.token.address).call() == 400_00
