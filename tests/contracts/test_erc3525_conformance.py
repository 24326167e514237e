"""ERC-3525 conformance, written from the EIP text (interface ids, events, approvals, receivers)."""

from __future__ import annotations

import pytest
from eth_utils import keccak

from scf_chain.chain import reverts
from scf_chain.chain.anvil import AnvilChain
from scf_chain.contracts import artifacts
from scf_chain.contracts.events import default_event_decoder
from tests.contracts.harness import FINANCIER, SUPPLIER, System, build_system

DAY = 86_400


def _token(s: System, face: int = 10_000) -> tuple[int, int]:
    slot = s.apply_and_confirm(s.holders[0], face, s.chain.now() + 60 * DAY, "INV-C")
    return slot, s.first_token_of(slot)


def _receiver(s: System, mode: int) -> str:
    art = artifacts.load("MockReceiver", s.evm_version)
    addr = s.operator.deploy(art.abi, art.bytecode, mode).contract_address
    assert addr is not None
    s.operator.transact(s.token.functions.setRoles(addr, SUPPLIER))
    return addr


@pytest.mark.parametrize("iface,expected", [
    ("0x01ffc9a7", True),   # ERC-165
    ("0x80ac58cd", True),   # ERC-721
    ("0x5b5e139f", True),   # ERC-721 metadata
    ("0xd5358140", True),   # ERC-3525
    ("0xe1600902", True),   # ERC-3525 metadata
    ("0xffffffff", False),  # ERC-165: MUST be false
])
def test_supports_the_eip_interface_ids(sys_: System, iface: str, expected: bool) -> None:
    assert sys_.token.functions.supportsInterface(bytes.fromhex(iface[2:])).call() is expected


def test_split_emits_transfer_slotchanged_and_transfervalue(sys_: System) -> None:
    slot, token = _token(sys_)
    fn = sys_.token.get_function_by_signature("transferFrom(uint256,address,uint256)")
    rcpt = sys_.sender(sys_.holders[0]).transact(fn(token, sys_.holders[1], 400))
    names = [e.name for e in default_event_decoder().decode_all(rcpt.logs)]
    assert names == ["Transfer", "SlotChanged", "TransferValue"]
    tv = sys_.events(rcpt, "TransferValue")[0]
    new = int(tv["_toTokenId"])
    assert (int(tv["_fromTokenId"]), int(tv["_value"])) == (token, 400)
    sc = sys_.events(rcpt, "SlotChanged")[0]
    assert (int(sc["_oldSlot"]), int(sc["_newSlot"])) == (0, slot)
    assert sys_.token.functions.slotOf(new).call() == slot
    assert sys_.value_of(token) + sys_.value_of(new) == 10_000


def test_merge_requires_same_slot_and_distinct_tokens(sys_: System) -> None:
    _, t1 = _token(sys_)
    slot2 = sys_.apply_and_confirm(sys_.holders[0], 500, sys_.chain.now() + 60 * DAY, "INV-C2")
    t2 = sys_.first_token_of(slot2)
    with pytest.raises(reverts.SlotMismatch):
        sys_.merge(sys_.holders[0], t1, t2, 10)
    with pytest.raises(reverts.SameToken):
        sys_.merge(sys_.holders[0], t1, t1, 10)
    with pytest.raises(reverts.NonexistentToken):
        sys_.merge(sys_.holders[0], t1, t1 + 999, 10)


def test_value_allowance_is_spent_and_bounded(sys_: System) -> None:
    _, token = _token(sys_)
    a, b, c = sys_.holders
    rcpt = sys_.sender(a).transact(sys_.token.functions.approve(token, b, 300))
    ev = sys_.events(rcpt, "ApprovalValue")[0]
    assert (int(ev["_tokenId"]), ev["_operator"], int(ev["_value"])) == (token, b, 300)
    assert sys_.token.functions.allowance(token, b).call() == 300
    fn = sys_.token.get_function_by_signature("transferFrom(uint256,address,uint256)")
    sys_.sender(b).transact(fn(token, c, 200))
    assert sys_.token.functions.allowance(token, b).call() == 100
    with pytest.raises(reverts.InsufficientAllowance):
        sys_.sender(b).transact(fn(token, c, 101))
    with pytest.raises(reverts.ApproveToOwner):
        sys_.sender(a).transact(sys_.token.functions.approve(token, a, 1))
    with pytest.raises(reverts.NotAuthorized):
        sys_.sender(c).transact(sys_.token.functions.approve(token, c, 1))


def test_erc721_transfer_voids_previous_owners_approvals(sys_: System) -> None:
    _, token = _token(sys_)
    a, b, c = sys_.holders
    sys_.sender(a).transact(sys_.token.functions.approve(token, c, 500))
    sys_.sender(a).transact(sys_.token.get_function_by_signature("approve(address,uint256)")(c, token))
    sys_.transfer_token(a, b, token)
    assert sys_.token.functions.allowance(token, c).call() == 0
    assert sys_.token.functions.getApproved(token).call() == "0x" + "0" * 40
    assert sys_.token.get_function_by_signature("balanceOf(address)")(b).call() == 1


def test_erc721_approved_operator_may_move_the_whole_token(sys_: System) -> None:
    _, token = _token(sys_)
    a, b, c = sys_.holders
    sys_.sender(a).transact(sys_.token.functions.setApprovalForAll(c, True))
    assert sys_.token.functions.isApprovedForAll(a, c).call()
    fn = sys_.token.get_function_by_signature("transferFrom(address,address,uint256)")
    sys_.sender(c).transact(fn(a, b, token))
    assert sys_.owner_of(token) == b
    with pytest.raises(reverts.WrongFrom):
        sys_.sender(b).transact(fn(a, c, token))


@pytest.mark.parametrize("mode,accepted", [(0, True), (1, False), (2, False), (3, True)])
def test_contract_receivers_are_asked_when_they_declare_the_interface(sys_: System, mode: int, accepted: bool) -> None:
    _, token = _token(sys_)
    recv = _receiver(sys_, mode)
    fn = sys_.token.get_function_by_signature("transferFrom(uint256,address,uint256)")
    if accepted:
        sys_.sender(sys_.holders[0]).transact(fn(token, recv, 10))
    else:
        with pytest.raises(reverts.ReceiverRejected):
            sys_.sender(sys_.holders[0]).transact(fn(token, recv, 10))


def test_safe_transfer_checks_erc721_receivers(sys_: System) -> None:
    _, token = _token(sys_)
    bad = _receiver(sys_, 1)
    fn = sys_.token.get_function_by_signature("safeTransferFrom(address,address,uint256)")
    with pytest.raises(reverts.ERC721InvalidReceiver):
        sys_.sender(sys_.holders[0]).transact(fn(sys_.holders[0], bad, token))
    good = _receiver(sys_, 0)
    sys_.sender(sys_.holders[0]).transact(fn(sys_.holders[0], good, token))
    assert sys_.owner_of(token) == good


def test_metadata(sys_: System) -> None:
    _, token = _token(sys_)
    t = sys_.token.functions
    assert t.valueDecimals().call() == 2
    assert (t.name().call(), t.symbol().call()) == ("SCF Receivable", "SCFR")
    assert t.tokenURI(token).call() == ""
    sys_.operator.transact(t.setBaseURI("https://scf.example/meta/"))
    assert t.tokenURI(token).call() == f"https://scf.example/meta/token/{token}"
    assert t.slotURI(1).call() == "https://scf.example/meta/slot/1"
    assert t.contractURI().call() == "https://scf.example/meta/contract"


# -- approvals die with the holding (EIP-3525: value approvals are cleared when the token moves) --
def _approve_both(s: System, owner: str, token: int, operator: str, value: int) -> None:
    s.sender(owner).transact(s.token.functions.approve(token, operator, value))
    s.sender(owner).transact(s.token.get_function_by_signature("approve(address,uint256)")(operator, token))


def _assert_no_approval_left(s: System, token: int, operator: str) -> None:
    assert s.token.functions.allowance(token, operator).call() == 0
    assert s.token.functions.getApproved(token).call() == "0x" + "0" * 40
    split = s.token.get_function_by_signature("transferFrom(uint256,address,uint256)")
    with pytest.raises(reverts.InsufficientAllowance):
        s.sender(operator).transact(split(token, operator, 1))
    whole = s.token.get_function_by_signature("transferFrom(address,address,uint256)")
    with pytest.raises(reverts.NotAuthorized):
        s.sender(operator).transact(whole(s.owner_of(token), operator, token))


def test_approvals_do_not_revive_when_the_token_is_bought_back(sys_: System) -> None:
    _, token = _token(sys_)
    a, b, x = sys_.holders
    _approve_both(sys_, a, token, x, 900)
    assert sys_.token.functions.allowance(token, x).call() == 900
    sys_.transfer_token(a, b, token)
    _assert_no_approval_left(sys_, token, x)
    sys_.transfer_token(b, a, token)  # back to the owner who approved
    _assert_no_approval_left(sys_, token, x)
    assert sys_.value_of(token) == 10_000 and sys_.owner_of(token) == a


def test_approvals_do_not_revive_after_escrow_and_cancellation(sys_: System) -> None:
    _, token = _token(sys_)
    a, _, x = sys_.holders
    _approve_both(sys_, a, token, x, 900)
    offer_id, escrow = sys_.offer(a, token, 10_000, 9_000, sys_.chain.now() + DAY)
    assert escrow == token  # the whole token went into escrow: a change of owner
    assert sys_.cancel(a, offer_id) == token
    assert sys_.owner_of(token) == a
    _assert_no_approval_left(sys_, token, x)


def test_approvals_do_not_revive_when_a_financed_token_comes_back(sys_: System) -> None:
    _, token = _token(sys_)
    a, _, x = sys_.holders
    _approve_both(sys_, a, token, x, 900)
    offer_id, _ = sys_.offer(a, token, 10_000, 9_000, sys_.chain.now() + DAY)
    sys_.accept(offer_id)
    sys_.operator.transact(sys_.token.functions.setRoles(sys_.bank, FINANCIER | SUPPLIER))
    sys_.transfer_token(sys_.bank, a, token)
    _assert_no_approval_left(sys_, token, x)


def test_approvals_outlive_value_moves_that_keep_the_owner(sys_: System) -> None:
    _, token = _token(sys_)
    a, b, x = sys_.holders
    _approve_both(sys_, a, token, x, 900)
    sys_.split(a, token, b, 1_000)
    offer_id, escrow = sys_.offer(a, token, 2_000, 1_900, sys_.chain.now() + DAY)
    assert escrow != token
    assert sys_.cancel(a, offer_id) == token  # merged back: the token never left its owner
    assert sys_.token.functions.allowance(token, x).call() == 900
    assert sys_.token.functions.getApproved(token).call() == x
    split = sys_.token.get_function_by_signature("transferFrom(uint256,address,uint256)")
    sys_.sender(x).transact(split(token, b, 100))  # the approved address moves without allowance
    assert sys_.token.functions.allowance(token, x).call() == 900


def test_a_new_approval_after_the_return_counts(sys_: System) -> None:
    _, token = _token(sys_)
    a, b, x = sys_.holders
    _approve_both(sys_, a, token, x, 900)
    sys_.transfer_token(a, b, token)
    sys_.sender(b).transact(sys_.token.functions.approve(token, x, 50))
    assert sys_.token.functions.allowance(token, x).call() == 50
    sys_.transfer_token(b, a, token)
    assert sys_.token.functions.allowance(token, x).call() == 0
    sys_.sender(a).transact(sys_.token.functions.approve(token, x, 70))
    assert sys_.token.functions.allowance(token, x).call() == 70


@pytest.mark.anvil
def test_an_exhausted_approval_epoch_stops_the_token_instead_of_wrapping(anvil_chain: AnvilChain) -> None:
    """2**32 changes of owner cannot happen before maturity; were the epoch ever full, the next
    change of owner must revert rather than wrap to an epoch whose approvals could revive."""
    s = build_system(anvil_chain)
    snap = anvil_chain.take_snapshot()
    try:
        _, token = _token(s)
        a, b, x = s.holders
        s.sender(a).transact(s.token.functions.approve(token, x, 900))
        w3 = anvil_chain.w3
        word = int.from_bytes(w3.eth.get_storage_at(s.token.address, _token_slot(s, token)), "big")
        assert (word >> 64) & (2**96 - 1) == 10_000 and (word >> 32) & 0xFFFFFFFF == 0
        full = word | (0xFFFFFFFF << 32)
        w3.provider.make_request("anvil_setStorageAt", [  # type: ignore[arg-type]
            s.token.address, hex(_token_slot(s, token)), "0x" + full.to_bytes(32, "big").hex()])
        with pytest.raises(reverts.ApprovalEpochExhausted):
            s.transfer_token(a, b, token)
        assert s.owner_of(token) == a
    finally:
        anvil_chain.revert_to_snapshot(snap)


def _token_slot(s: System, token: int) -> int:
    """The storage slot of `_tokens[token]`: the mapping whose entry holds the token's word."""
    w3 = s.chain.w3
    for base in range(32):
        slot = int.from_bytes(keccak(token.to_bytes(32, "big") + base.to_bytes(32, "big")), "big")
        word = int.from_bytes(w3.eth.get_storage_at(s.token.address, slot), "big")
        if word and (word >> 64) & (2**96 - 1) == s.value_of(token):
            return slot
    raise AssertionError("token word not found")
