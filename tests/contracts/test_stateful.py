"""Random sequences of every receivable operation, with all money invariants checked after each step.

Runs on anvil with snapshots (eth-tester is too slow for thousands of steps). CI runs
STATEFUL_EXAMPLES x STATEFUL_STEPS >= 2,000 steps; a longer run is one command:

    SCF_STATEFUL_EXAMPLES=400 .venv/bin/python -m pytest tests/contracts/test_stateful.py -p no:xdist

Invariants (docs/contracts.md):
- every token's value and owner equal the model's; Σ token values of a slot == face − paidOut
- paidOut ≤ repaid ≤ face, and the chain's repaid/paidOut equal the model's
- the contract's settlement-token balance == Σ_slots (repaid − paidOut)
- every participant's settlement-token balance equals the model's (money neither appears nor
  disappears; total supply is constant)
- no redemption pays a token more than its value, and each pays exactly floor(v·(R−R0)/(F−R0))
- each debtor's outstanding total == Σ (face − repaid) of the confirmed receivables naming it,
  with receivables moved between two debtor keys (offerDebtorMove + moveDebts) in the mix;
  repayment and collection come from the slot's current debtor
- every value allowance and ERC-721 approval ever given reads as the model says: it lasts while
  its token stays with the owner who gave it and is gone for good once the token changes owner,
  even when the token comes back (bought back, or escrowed and returned by a cancellation)
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from scf_chain.chain.anvil import AnvilChain
from scf_chain.chain.sender import TxSender
from scf_chain.errors import ContractRevert
from tests.contracts.harness import DEBTOR, System, build_system
from tests.contracts.model import Model, MOffer, MSlot, MToken

STATEFUL_EXAMPLES = int(os.environ.get("SCF_STATEFUL_EXAMPLES", "60"))
STATEFUL_STEPS = int(os.environ.get("SCF_STATEFUL_STEPS", "50"))
MIN_TOTAL_STEPS = int(os.environ.get("SCF_STATEFUL_MIN_STEPS", "2000"))
# The Paris build (storage reentrancy guard, no PUSH0) on a Paris-fork anvil: the same machine
# with fewer examples, since the builds share their source and differ in the guard and opcodes.
PARIS_EXAMPLES = int(os.environ.get("SCF_STATEFUL_PARIS_EXAMPLES", "10"))
steps_run = 0
debts_moved = 0  # successful moveDebts calls: the rule must be exercised, not only refused

DAY = 86_400
UNIT = 100  # 1.00 in a 2-decimal settlement token

_systems: dict[str, System] = {}


def system(evm_version: str = "cancun") -> System:
    if evm_version not in _systems:
        chain = AnvilChain(hardfork=evm_version)
        # every block exactly one second after the last: chain time depends only on the
        # sequence of operations, so hypothesis sees the same data when it replays a case
        chain.set_block_timestamp_interval(1)
        _systems[evm_version] = build_system(chain, evm_version=evm_version)
    return _systems[evm_version]


class ReceivableMachine(RuleBasedStateMachine):
    """The model says what must happen; the chain must agree, or revert exactly when the model says no."""

    slots = Bundle("slots")
    evm_version = "cancun"

    def __init__(self) -> None:
        super().__init__()
        self.sys = system(self.evm_version)
        self.snapshot = self.sys.chain.take_snapshot()
        self.m = Model(contract=self.sys.token.address)
        for addr in self.sys.holders + [self.sys.debtor, self.sys.bank]:
            self.m.erc20[addr] = self.sys.erc20_balance(addr)
        self.start_contract_balance = self.sys.erc20_balance(self.sys.token.address)
        self.m.erc20[self.sys.token.address] = self.start_contract_balance
        self.invoice_counter = 0
        self.redeemed_steps = 0
        # a second debtor key receivables move to and fro (set up inside the snapshot)
        self.debtors = [self.sys.debtor, self._second_debtor()]
        self.m.erc20[self.debtors[1]] = self.sys.erc20_balance(self.debtors[1])
        self.successor: dict[str, str] = {}  # each debtor's offered successor, as on chain

    def _second_debtor(self) -> str:
        acct = self.sys.chain.dev_accounts()[6 + len(self.sys.holders)]
        if acct.address not in self.sys.by_address:
            self.sys.by_address[acct.address] = TxSender(self.sys.chain, acct)
        t, op = self.sys.token.functions, self.sys.operator
        op.transact(t.setRoles(acct.address, DEBTOR))
        op.transact(t.setCreditLimit(acct.address, 10**15))
        op.transact(self.sys.erc20.functions.mint(acct.address, 10**13))
        self.sys.approve_collection(2**256 - 1, acct.address)
        return str(acct.address)

    def teardown(self) -> None:
        self.sys.chain.revert_to_snapshot(self.snapshot)

    # -- helpers --------------------------------------------------------------------------------
    def now(self) -> int:
        return self.sys.chain.now()

    def _expect_revert(self, fn: Any, *args: Any) -> ContractRevert:
        with pytest.raises(ContractRevert) as info:
            fn(*args)
        return info.value

    def _movable(self, token_id: int) -> bool:
        t = self.m.tokens.get(token_id)
        if t is None or token_id in self.m.escrow_ids():
            return False
        return self.now() < self.m.slots[t.slot].maturity

    # -- issuance ---------------------------------------------------------------------------------
    @initialize(target=slots)
    def first_receivable(self) -> int:
        return self._issue(face=1_000 * UNIT, tenor_days=90, creditor_index=0)

    def _issue(self, face: int, tenor_days: int, creditor_index: int) -> int:
        self.invoice_counter += 1
        creditor = self.sys.holders[creditor_index]
        maturity = self.now() + tenor_days * DAY
        slot = self.sys.apply_and_confirm(creditor, face, maturity, f"INV-{self.invoice_counter}")
        self.m.slots[slot] = MSlot(slot, self.sys.debtor, creditor, face, maturity)
        token_id = self.sys.first_token_of(slot)
        self.m.tokens[token_id] = MToken(token_id, slot, creditor, face)
        return slot

    @rule(target=slots, face=st.integers(1, 5_000).map(lambda x: x * UNIT + 37),
          tenor=st.integers(10, 180), who=st.integers(0, 2))
    def issue(self, face: int, tenor: int, who: int) -> int:
        return self._issue(face, tenor, who)

    @rule(tenor=st.integers(181, 400))
    def issue_beyond_max_tenor_reverts(self, tenor: int) -> None:
        self.invoice_counter += 1
        err = self._expect_revert(self.sys.apply_only, self.sys.holders[0], 100 * UNIT,
                                  self.now() + tenor * DAY, f"INV-{self.invoice_counter}")
        assert err.error_name in ("TenorTooLong", "MaturityTooFar", "InvalidMaturity"), err

    # -- value moves ------------------------------------------------------------------------------
    def _pick(self, data: Any, movable: bool = True) -> int | None:
        ids = sorted(t for t in self.m.tokens
                     if not movable or (self._movable(t) and self.m.tokens[t].value > 0))
        if not ids:
            return None
        return data.draw(st.sampled_from(ids))

    @rule(data=st.data(), to=st.integers(0, 2), frac=st.floats(0.01, 1.0))
    def split(self, data: Any, to: int, frac: float) -> None:
        token_id = self._pick(data)
        if token_id is None:
            return
        t = self.m.tokens[token_id]
        value = max(1, int(t.value * frac))
        recipient = self.sys.holders[to]
        new_id = self.sys.split(t.owner, token_id, recipient, value)
        self.m.move(token_id, new_id, recipient, value)

    @rule(data=st.data(), to=st.lists(st.integers(0, 2), min_size=1, max_size=4),
          over=st.booleans())
    def split_many(self, data: Any, to: list[int], over: bool) -> None:
        """A batch is its splits in one transaction; one more unit than the token holds
        refuses all of them."""
        token_id = self._pick(data)
        if token_id is None:
            return
        t = self.m.tokens[token_id]
        if t.value < len(to):
            return
        share = t.value // len(to)  # each part at most an equal share: together within the value
        values = data.draw(st.lists(st.integers(1, share), min_size=len(to), max_size=len(to)))
        recipients = [self.sys.holders[i] for i in to]
        if over:
            values[-1] += t.value - sum(values) + 1
            err = self._expect_revert(self.sys.split_many, t.owner, token_id, recipients, values)
            assert err.error_name == "InsufficientValue", err
            return
        new_ids = self.sys.split_many(t.owner, token_id, recipients, values)
        assert len(new_ids) == len(values)
        for new_id, recipient, value in zip(new_ids, recipients, values, strict=True):
            self.m.move(token_id, new_id, recipient, value)

    @rule(data=st.data(), frac=st.floats(0.01, 1.0))
    def merge(self, data: Any, frac: float) -> None:
        token_id = self._pick(data)
        if token_id is None:
            return
        t = self.m.tokens[token_id]
        targets = [o.token_id for o in self.m.tokens.values()
                   if o.slot == t.slot and o.owner == t.owner and o.token_id != token_id
                   and o.token_id not in self.m.escrow_ids()]
        if not targets:
            return
        target = data.draw(st.sampled_from(sorted(targets)))
        value = max(1, int(t.value * frac))
        self.sys.merge(t.owner, token_id, target, value)
        self.m.move(token_id, target, t.owner, value)

    @rule(data=st.data(), to=st.integers(0, 2))
    def transfer_whole_token(self, data: Any, to: int) -> None:
        ids = sorted(t for t in self.m.tokens if self._movable(t))  # emptied tokens move too
        token_id = data.draw(st.sampled_from(ids)) if ids else None
        if token_id is None:
            return
        t = self.m.tokens[token_id]
        self.sys.transfer_token(t.owner, self.sys.holders[to], token_id)
        self.m.set_owner(token_id, self.sys.holders[to])

    @rule(data=st.data())
    def move_more_than_value_reverts(self, data: Any) -> None:
        token_id = self._pick(data)
        if token_id is None:
            return
        t = self.m.tokens[token_id]
        err = self._expect_revert(self.sys.split, t.owner, token_id, self.sys.holders[1], t.value + 1)
        assert err.error_name.startswith("ERC3525") or "Insufficient" in err.error_name, err

    @rule(data=st.data())
    def move_after_maturity_reverts(self, data: Any) -> None:
        ids = [t for t, tok in self.m.tokens.items()
               if self.now() >= self.m.slots[tok.slot].maturity and t not in self.m.escrow_ids()]
        if not ids:
            return
        token_id = data.draw(st.sampled_from(sorted(ids)))
        t = self.m.tokens[token_id]
        if t.value == 0:
            return
        self._expect_revert(self.sys.split, t.owner, token_id, self.sys.holders[1], 1)

    # -- financing --------------------------------------------------------------------------------
    @rule(data=st.data(), frac=st.floats(0.05, 1.0), discount=st.floats(0.0, 0.2),
          days=st.integers(1, 30))
    def offer(self, data: Any, frac: float, discount: float, days: int) -> None:
        token_id = self._pick(data)
        if token_id is None:
            return
        t = self.m.tokens[token_id]
        value = max(1, int(t.value * frac))
        price = max(1, int(value * (1 - discount)))
        expiry = self.now() + days * DAY
        maturity = self.m.slots[t.slot].maturity
        if expiry > maturity:
            err = self._expect_revert(self.sys.offer, t.owner, token_id, value, price, expiry)
            assert err.error_name == "InvalidExpiry", err
            return
        offer_id, escrow_id = self.sys.offer(t.owner, token_id, value, price, expiry)
        holder = t.owner
        if escrow_id == token_id:  # the whole token went into escrow
            self.m.set_owner(token_id, self.sys.token.address)
        else:
            self.m.move(token_id, escrow_id, self.sys.token.address, value)
        self.m.offers[offer_id] = MOffer(offer_id, holder, token_id, escrow_id, value,
                                         self.sys.bank, price, expiry)

    @rule(data=st.data())
    def accept(self, data: Any) -> None:
        open_ids = sorted(o for o, off in self.m.offers.items() if off.open)
        if not open_ids:
            return
        offer_id = data.draw(st.sampled_from(open_ids))
        off = self.m.offers[offer_id]
        slot = self.m.tokens[off.escrow].slot
        if self.now() >= off.expiry or self.now() >= self.m.slots[slot].maturity:
            self._expect_revert(self.sys.accept, offer_id)
            return
        self.sys.accept(offer_id)
        self.m.pay(self.sys.bank, off.holder, off.price)
        self.m.set_owner(off.escrow, self.sys.bank)
        off.open = False

    @rule(data=st.data())
    def cancel(self, data: Any) -> None:
        open_ids = sorted(o for o, off in self.m.offers.items() if off.open)
        if not open_ids:
            return
        offer_id = data.draw(st.sampled_from(open_ids))
        off = self.m.offers[offer_id]
        source = self.m.tokens.get(off.source)
        # back into the source only while it is the holder's and was never partly redeemed
        merges = (off.source != off.escrow and source is not None and source.owner == off.holder
                  and source.checkpoint == 0)
        returned_to = self.sys.cancel(off.holder, offer_id)
        assert returned_to == (off.source if merges else off.escrow)
        if merges:
            assert source is not None
            source.value += self.m.burn(off.escrow).value
        else:
            self.m.set_owner(off.escrow, off.holder)
        off.open = False

    # -- approvals --------------------------------------------------------------------------------
    def _operators(self) -> list[str]:
        return [*self.sys.holders, self.sys.bank, self.sys.outsider.address]

    def _approved_first(self, ids: list[int]) -> list[int]:
        """The tokens among `ids` with a live approval, if any: where a change of owner matters."""
        live = {t for t, _ in self.m.allowances} | set(self.m.approved)
        return [t for t in ids if t in live] or ids

    def _approvable(self, data: Any) -> int | None:
        ids = sorted(t for t in self.m.tokens if t not in self.m.escrow_ids())
        return data.draw(st.sampled_from(ids)) if ids else None

    @rule(data=st.data(), who=st.integers(0, 4),
          amount=st.one_of(st.integers(0, 2_000 * UNIT), st.just(2**256 - 1)))
    def approve_value(self, data: Any, who: int, amount: int) -> None:
        token_id = self._approvable(data)
        if token_id is None:
            return
        owner, operator = self.m.tokens[token_id].owner, self._operators()[who]
        fn = self.sys.token.get_function_by_signature("approve(uint256,address,uint256)")
        if operator == owner:
            err = self._expect_revert(self.sys.sender(owner).transact, fn(token_id, operator, amount))
            assert err.error_name == "ApproveToOwner", err
            return
        self.sys.sender(owner).transact(fn(token_id, operator, amount))
        self.m.approve_value(token_id, operator, amount)

    @rule(data=st.data(), who=st.integers(0, 4))
    def approve_token(self, data: Any, who: int) -> None:
        token_id = self._approvable(data)
        if token_id is None:
            return
        owner, operator = self.m.tokens[token_id].owner, self._operators()[who]
        fn = self.sys.token.get_function_by_signature("approve(address,uint256)")
        self.sys.sender(owner).transact(fn(operator, token_id))
        self.m.approve_token(token_id, operator)

    @rule(data=st.data(), frac=st.floats(0.0, 1.0), to=st.integers(0, 2))
    def spend_approval(self, data: Any, frac: float, to: int) -> None:
        """An operator given an approval at some time moves value: as far as the model allows, never more."""
        pairs = sorted((t, op) for t, op in self.m.ever_approved
                       if t in self.m.tokens and self._movable(t) and self.m.tokens[t].value > 0)
        if not pairs:
            return
        token_id, operator = data.draw(st.sampled_from(pairs))
        t = self.m.tokens[token_id]
        allowance = self.m.allowance(token_id, operator)
        free = self.m.may_move_without_allowance(token_id, operator)
        cap = t.value if free else min(t.value, allowance)
        recipient = self.sys.holders[to]
        if cap == 0:  # nothing the model allows: the chain must refuse even one unit
            err = self._expect_revert(self.sys.split, operator, token_id, recipient, 1)
            assert err.error_name == "InsufficientAllowance", err
            return
        value = max(1, int(cap * frac))
        new_id = self.sys.split(operator, token_id, recipient, value)
        self.m.spend(token_id, operator, value)
        self.m.move(token_id, new_id, recipient, value)

    @rule(data=st.data(), via=st.integers(0, 2))
    def buy_back(self, data: Any, via: int) -> None:
        """A → B → A: whatever A approved before must not come back with the token."""
        ids = self._approved_first(sorted(t for t in self.m.tokens if self._movable(t)))
        if not ids:
            return
        token_id = data.draw(st.sampled_from(ids))
        owner = self.m.tokens[token_id].owner
        buyer = self.sys.holders[via]
        if owner not in self.sys.holders or buyer == owner:
            return
        self.sys.transfer_token(owner, buyer, token_id)
        self.m.set_owner(token_id, buyer)
        self.sys.transfer_token(buyer, owner, token_id)
        self.m.set_owner(token_id, owner)

    @rule(data=st.data())
    def escrow_and_cancel(self, data: Any) -> None:
        """The whole token into an offer's escrow and back by cancellation: a change of owner twice."""
        ids = self._approved_first(sorted(t for t in self.m.tokens
                                          if self._movable(t) and self.m.tokens[t].value > 0))
        if not ids:
            return
        token_id = data.draw(st.sampled_from(ids))
        t = self.m.tokens[token_id]
        holder = t.owner
        expiry = min(self.now() + DAY, self.m.slots[t.slot].maturity)
        if holder not in self.sys.holders or expiry <= self.now() + 1:
            return
        offer_id, escrow_id = self.sys.offer(holder, token_id, t.value, t.value, expiry)
        assert escrow_id == token_id
        self.m.set_owner(token_id, self.sys.token.address)
        self.m.offers[offer_id] = MOffer(offer_id, holder, token_id, token_id, t.value,
                                         self.sys.bank, t.value, expiry, open=False)
        assert self.sys.cancel(holder, offer_id) == token_id
        self.m.set_owner(token_id, holder)

    # -- repayment --------------------------------------------------------------------------------
    @rule(slot=slots, frac=st.floats(0.0, 1.0))
    def repay(self, slot: int, frac: float) -> None:
        s = self.m.slots[slot]
        left = s.face - s.repaid
        if left == 0:
            err = self._expect_revert(self.sys.repay, slot, 1, s.debtor)
            assert err.error_name in ("Overpayment", "NothingOwed", "AlreadyRepaid"), err
            return
        amount = max(1, int(left * frac))
        self.sys.repay(slot, amount, s.debtor)
        self.m.pay(s.debtor, self.sys.token.address, amount)
        s.repaid += amount

    @rule(slot=slots)
    def overpay_reverts(self, slot: int) -> None:
        s = self.m.slots[slot]
        err = self._expect_revert(self.sys.repay, slot, s.face - s.repaid + 1, s.debtor)
        assert err.error_name in ("Overpayment", "NothingOwed", "AlreadyRepaid"), err

    @rule(slot=slots, allowance_frac=st.floats(0.0, 1.2))
    def authorize_and_collect(self, slot: int, allowance_frac: float) -> None:
        s = self.m.slots[slot]
        if not s.collect_enabled:
            self.sys.authorize_collection(slot, s.debtor)
            s.collect_enabled = True
        left = s.face - s.repaid
        allowance = int(s.face * allowance_frac)
        self.sys.approve_collection(allowance, s.debtor)
        expected = min(left, allowance, self.m.erc20[s.debtor])
        try:
            if self.now() < s.maturity or expected == 0:
                self._expect_revert(self.sys.collect, slot)
                return
            got = self.sys.collect(slot)
            assert got == expected
            self.m.pay(s.debtor, self.sys.token.address, got)
            s.repaid += got
        finally:
            self.sys.approve_collection(2**256 - 1, s.debtor)  # repay() draws on it too

    @rule(data=st.data())
    def redeem(self, data: Any) -> None:
        ids = sorted(t for t in self.m.tokens if t not in self.m.escrow_ids())
        if not ids:
            return
        token_id = data.draw(st.sampled_from(ids))
        t = self.m.tokens[token_id]
        s = self.m.slots[t.slot]
        allowed = self.now() >= s.maturity or s.repaid == s.face
        due = self.m.due(token_id)
        if not allowed or due == 0:
            self._expect_revert(self.sys.redeem, token_id)
            return
        paid = self.sys.redeem(token_id)
        assert paid == due <= t.value
        self.m.redeem(token_id)

    @rule(slot=slots)
    def redeem_batch(self, slot: int) -> None:
        s = self.m.slots[slot]
        ids = sorted(t.token_id for t in self.m.live_tokens(slot) if t.token_id not in self.m.escrow_ids())
        if not ids or not (self.now() >= s.maturity or s.repaid == s.face):
            return
        expected = sum(self.m.due(i) for i in ids)
        total = self.sys.redeem_batch(ids)
        assert total == expected
        for i in ids:
            self.m.redeem(i)

    # -- the debtor's key changes ------------------------------------------------------------------
    @rule(slot=slots, offer_first=st.booleans())
    def move_debt(self, slot: int, offer_first: bool) -> None:
        """The slot's debtor offers the other debtor key as its successor (unless it already
        did, or the rule skips the offer to see the move refused) and the operator moves it."""
        s = self.m.slots[slot]
        old = s.debtor
        new = self.debtors[1 - self.debtors.index(old)]
        t = self.sys.token.functions
        if offer_first and self.successor.get(old) != new:
            self.sys.sender(old).transact(t.offerDebtorMove(new))
            self.successor[old] = new

        def move() -> Any:
            return self.sys.operator.transact(t.moveDebts(old, [slot]))

        if self.successor.get(old) != new:
            assert self._expect_revert(move).error_name == "NoDebtorSuccessor"
            return
        if s.repaid == s.face:
            assert self._expect_revert(move).error_name == "DebtNotOpen"
            return
        move()
        s.debtor = new
        global debts_moved
        debts_moved += 1

    # -- time -------------------------------------------------------------------------------------
    @rule(days=st.integers(1, 120))
    def advance_time(self, days: int) -> None:
        self.sys.chain.time_travel(days * DAY)

    # -- invariants -------------------------------------------------------------------------------
    @invariant()
    def chain_matches_model(self) -> None:
        global steps_run
        steps_run += 1
        sysm = self.sys
        token, erc20 = sysm.token.functions, sysm.erc20.functions
        value_of = sysm.token.get_function_by_signature("balanceOf(uint256)")
        tokens = list(self.m.tokens.items())
        slots = list(self.m.slots.items())
        balances = [sysm.token.address] + sysm.holders + self.debtors + [sysm.bank]
        approvals = [(token_id, operator) for token_id, operator in sorted(self.m.ever_approved)
                     if token_id in self.m.tokens]  # a burned one: the chain answers NonexistentToken
        # every read of this check in one JSON-RPC batch: the check runs after every step
        reads = iter(sysm.read_many(
            [f for token_id, _ in tokens for f in (value_of(token_id), token.ownerOf(token_id))]
            + [token.getReceivable(slot) for slot, _ in slots]
            + [erc20.balanceOf(addr) for addr in balances]
            + [token.outstandingOf(debtor) for debtor in self.debtors]
            + [f for token_id, operator in approvals
               for f in (token.allowance(token_id, operator), token.getApproved(token_id))]))
        for token_id, t in tokens:
            assert next(reads) == t.value, f"value of token {token_id}"
            assert next(reads) == t.owner, f"owner of token {token_id}"
        escrowed = 0
        for slot, s in slots:
            r = next(reads)
            assert r[0] == s.debtor, f"slot {slot} debtor"
            repaid, paid_out = int(r[-2]), int(r[-1])
            assert (repaid, paid_out) == (s.repaid, s.paid_out), f"slot {slot} totals"
            assert paid_out <= repaid <= s.face
            assert self.m.slot_value(slot) == s.face - paid_out, f"slot {slot} value"
            escrowed += repaid - paid_out
        held = next(reads)
        assert held == self.m.erc20[sysm.token.address]
        assert held - self.start_contract_balance == escrowed, "contract holds exactly repaid − paid out"
        for addr in balances[1:]:
            assert next(reads) == self.m.erc20[addr], f"erc20 balance of {addr}"
        for debtor in self.debtors:
            owed = sum(s.face - s.repaid for s in self.m.slots.values() if s.debtor == debtor)
            assert next(reads) == owed, f"outstanding of {debtor}"
        zero = "0x" + "0" * 40
        for token_id, operator in approvals:
            got = next(reads)
            assert got == self.m.allowance(token_id, operator), f"allowance of {operator} on {token_id}"
            approved = next(reads)
            assert approved == self.m.approved.get(token_id, zero), f"approved address of {token_id}"
        assert next(reads, None) is None  # every read was checked


pytestmark = [pytest.mark.anvil, pytest.mark.xdist_group("stateful")]


class ParisReceivableMachine(ReceivableMachine):
    evm_version = "paris"


@pytest.mark.parametrize("machine,examples", [
    (ReceivableMachine, STATEFUL_EXAMPLES),
    (ParisReceivableMachine, PARIS_EXAMPLES),
], ids=["cancun", "paris"])
def test_random_operation_sequences_keep_every_money_invariant(
        machine: type[ReceivableMachine], examples: int) -> None:
    global steps_run, debts_moved
    steps_run = debts_moved = 0
    run_state_machine_as_test(
        machine,
        settings=settings(max_examples=examples, stateful_step_count=STATEFUL_STEPS,
                          deadline=None),
    )
    # every step (and each initial state) was checked against all invariants
    wanted = MIN_TOTAL_STEPS * examples // STATEFUL_EXAMPLES
    assert steps_run >= wanted, f"only {steps_run} steps ran; raise SCF_STATEFUL_EXAMPLES"
    assert debts_moved > 0, "no receivable changed debtor"
