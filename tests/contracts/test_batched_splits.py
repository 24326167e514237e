"""splitMany: a batch of splits in one transaction, each under the policy of a single split."""

from __future__ import annotations

from typing import Any

import pytest
from eth_utils import keccak
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scf_chain.chain import reverts
from scf_chain.contracts.encoding import MAX_BATCH_RECIPIENTS
from scf_chain.contracts.events import default_event_decoder
from tests.contracts.harness import SUPPLIER, System

DAY = 86_400
FACE = 1_000_000_00
ZERO = "0x" + "00" * 20


def _token(s: System, days: int = 90, invoice: str = "INV-SM") -> int:
    slot = s.apply_and_confirm(s.holders[0], FACE, s.chain.now() + days * DAY, invoice)
    return s.first_token_of(slot)


def _balance_of_owner(s: System, owner: str) -> int:
    return int(s.token.get_function_by_signature("balanceOf(address)")(owner).call())


def test_the_contract_and_the_gateway_agree_on_the_batch_limit(sys_: System) -> None:
    assert sys_.token.functions.MAX_BATCH_RECIPIENTS().call() == MAX_BATCH_RECIPIENTS


def test_each_part_is_recorded_as_a_single_split(sys_: System) -> None:
    s = sys_
    token = _token(s)
    a, b, c = s.holders
    counts = {x: _balance_of_owner(s, x) for x in (b, c)}
    rcpt = s.sender(a).transact(s.token.functions.splitMany(token, [b, c, b], [100, 250, 7]))
    events = [(e.name, dict(e.args)) for e in default_event_decoder().decode_all(rcpt.logs)]
    new = [int(args["_toTokenId"]) for name, args in events if name == "TransferValue"]
    assert new == [new[0], new[0] + 1, new[0] + 2]  # consecutive ids, in the order of `to`
    slot = token >> 64
    expected = []
    for tid, to, value in zip(new, [b, c, b], [100, 250, 7], strict=True):
        expected += [("Transfer", {"from": ZERO, "to": to, "tokenId": tid}),
                     ("SlotChanged", {"_tokenId": tid, "_oldSlot": 0, "_newSlot": slot}),
                     ("TransferValue", {"_fromTokenId": token, "_toTokenId": tid, "_value": value})]
    assert events == expected
    assert [s.value_of(t) for t in new] == [100, 250, 7]
    assert [s.owner_of(t) for t in new] == [b, c, b]
    assert s.value_of(token) == FACE - 357
    assert _balance_of_owner(s, b) == counts[b] + 2 and _balance_of_owner(s, c) == counts[c] + 1


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(st.integers(1, FACE // 8), min_size=1, max_size=8),
       to=st.lists(st.integers(0, 2), min_size=8, max_size=8))
def test_split_many_conserves_slot_value(sys_: System, values: list[int], to: list[int]) -> None:
    s = sys_
    snap = s.chain.take_snapshot()
    try:
        token = _token(s, invoice="INV-SM-P")
        recipients = [s.holders[i] for i in to[:len(values)]]
        new = s.split_many(s.holders[0], token, recipients, values)
        assert [s.value_of(t) for t in new] == values
        assert s.value_of(token) + sum(values) == FACE
    finally:
        s.chain.revert_to_snapshot(snap)


@pytest.mark.parametrize(("to_n", "values_n", "error"), [
    (0, 0, reverts.InvalidRecipients), (2, 1, reverts.InvalidRecipients),
    (1, 2, reverts.InvalidRecipients), (MAX_BATCH_RECIPIENTS + 1, MAX_BATCH_RECIPIENTS + 1,
                                        reverts.TooManyRecipients)])
def test_malformed_batches_are_refused(sys_: System, to_n: int, values_n: int, error: Any) -> None:
    token = _token(sys_)
    with pytest.raises(error):
        sys_.split_many(sys_.holders[0], token, [sys_.holders[1]] * to_n, [1] * values_n)


def test_a_batch_moves_all_parts_or_none(sys_: System) -> None:
    s = sys_
    token = _token(s)
    a, b, c = s.holders
    stranger = s.chain.w3.to_checksum_address("0x" + keccak(text="nobody").hex()[-40:])
    cases: list[tuple[list[str], list[int], Any]] = [
        ([b, c], [100, 0], reverts.InvalidValue),                  # a zero part
        ([b, c], [FACE - 10, 11], reverts.InsufficientValue),      # together over the value
        ([b, c], [100, FACE + 1], reverts.InsufficientValue),      # one part over the value
        ([b, stranger], [100, 100], reverts.NotRegistered),        # an unregistered recipient
        ([b, ZERO], [100, 100], reverts.NotRegistered),
    ]
    for to, values, error in cases:
        with pytest.raises(error):
            s.split_many(a, token, to, values)
        assert s.value_of(token) == FACE
    s.operator.transact(s.token.functions.setPolicy(10, 180 * DAY, True, True))
    with pytest.raises(reverts.InvalidValue):
        s.split_many(a, token, [b, c], [100, 105])                 # off the minimum unit
    s.operator.transact(s.token.functions.setPolicy(1, 180 * DAY, False, True))
    with pytest.raises(reverts.SplitNotAllowed):
        s.split_many(a, token, [b, c], [FACE // 2, FACE // 2])     # splitting is off
    assert s.value_of(token) == FACE


def test_only_the_holder_or_an_allowance_for_the_sum_moves_a_batch(sys_: System) -> None:
    s = sys_
    token = _token(s)
    a, b, c = s.holders
    with pytest.raises(reverts.InsufficientAllowance):
        s.split_many(b, token, [c], [1])
    s.sender(a).transact(s.token.get_function_by_signature("approve(uint256,address,uint256)")(
        token, b, 300))
    with pytest.raises(reverts.InsufficientAllowance):
        s.split_many(b, token, [c, b], [200, 101])
    s.split_many(b, token, [c, b], [200, 100])
    assert s.token.functions.allowance(token, b).call() == 0


def test_no_value_moves_after_maturity_or_while_paused(sys_: System) -> None:
    s = sys_
    token = _token(s, days=10)
    a, b, _ = s.holders
    s.operator.transact(s.token.functions.pause())
    with pytest.raises(reverts.EnforcedPause):
        s.split_many(a, token, [b], [1])
    s.operator.transact(s.token.functions.unpause())
    s.chain.time_travel(11 * DAY)
    with pytest.raises(reverts.SlotMatured):
        s.split_many(a, token, [b], [1])


def test_a_deregistered_holder_cannot_send_a_batch(sys_: System) -> None:
    s = sys_
    token = _token(s)
    a, b, _ = s.holders
    s.operator.transact(s.token.functions.setRoles(a, 0))
    with pytest.raises(reverts.NotRegistered):
        s.split_many(a, token, [b], [1])
    s.operator.transact(s.token.functions.setRoles(a, SUPPLIER))
