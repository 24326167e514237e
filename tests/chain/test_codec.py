"""The prepared ABI codec and event decoder agree with web3's own encoding and decoding."""

from __future__ import annotations

import pytest
from eth_utils import keccak, to_checksum_address
from hexbytes import HexBytes
from hypothesis import given, settings
from hypothesis import strategies as st
from web3 import Web3
from web3._utils.events import get_event_data

from scf_chain.chain.codec import AbiContract, checksum
from scf_chain.contracts import artifacts
from scf_chain.contracts.events import default_event_decoder
from scf_chain.devnet import DevNet
from scf_chain.errors import ChainError

ADDR = "0x" + "ab" * 20
W3 = Web3()
TOKEN_ABI = artifacts.load("ReceivableToken").abi
WEB3_TOKEN = W3.eth.contract(address=to_checksum_address(ADDR), abi=TOKEN_ABI)
OURS = AbiContract(W3, ADDR, TOKEN_ABI)

addresses = st.binary(min_size=20, max_size=20).map(lambda b: "0x" + b.hex())
uint = st.integers(min_value=0, max_value=2**256 - 1)
b32 = st.binary(min_size=32, max_size=32)


@settings(max_examples=60, deadline=None)
@given(slot=uint, token=uint, value=uint, to=addresses, proof=st.lists(b32, max_size=4),
       flag=st.booleans())
def test_calldata_is_byte_identical_to_web3(slot: int, token: int, value: int, to: str,
                                             proof: list[bytes], flag: bool) -> None:
    cs = to_checksum_address(to)
    cases = [
        ("confirm", (slot,)),
        ("repay", (slot, value)),
        ("authorizeCollection", (slot, flag)),
        ("redeemBatch", ([token, slot, value],)),
        ("applyFor", (cs, cs, value, cs, slot % 2**64, proof[0] if proof else b"\0" * 32, b"\1" * 32,
                      b"\2" * 32, proof)),
    ]
    for name, args in cases:
        ours = getattr(OURS.functions, name)(*args).data
        theirs = getattr(WEB3_TOKEN.functions, name)(*args)._encode_transaction_data()
        assert "0x" + ours.hex() == theirs, name
    for sig, args in [("transferFrom(uint256,address,uint256)", (token, cs, value)),
                      ("transferFrom(uint256,uint256,uint256)", (token, slot, value)),
                      ("transferFrom(address,address,uint256)", (cs, cs, token))]:
        ours = OURS.get_function_by_signature(sig)(*args).data
        theirs = WEB3_TOKEN.get_function_by_signature(sig)(*args)._encode_transaction_data()
        assert "0x" + ours.hex() == theirs, sig
    # lower-case and hex-string forms encode the same as checksummed and bytes forms
    lower = OURS.functions.applyFor(to, to, value, to, slot % 2**64, "0x" + "00" * 32,
                                    "0x" + "01" * 32, "0x" + "02" * 32,
                                    ["0x" + p.hex() for p in proof]).data
    assert lower == OURS.functions.applyFor(cs, cs, value, cs, slot % 2**64, b"\0" * 32, b"\1" * 32,
                                            b"\2" * 32, proof).data


def test_bad_arguments_and_unknown_functions_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="confirm"):
        OURS.functions.confirm(-1)
    with pytest.raises(ValueError, match="not an address"):
        OURS.functions.setRoles("0x1234", 1)
    with pytest.raises(ChainError, match="ambiguous"):
        OURS.functions.transferFrom(1, 2, 3)
    with pytest.raises(AttributeError):
        OURS.functions.noSuchFunction  # noqa: B018
    with pytest.raises(ChainError):
        OURS.get_function_by_signature("confirm(address)")


@settings(max_examples=100, deadline=None)
@given(raw=st.binary(min_size=20, max_size=20))
def test_checksum_matches_eip55(raw: bytes) -> None:
    expected = to_checksum_address(raw)
    assert checksum(raw) == expected
    assert checksum("0x" + raw.hex()) == expected
    assert checksum(("0x" + raw.hex()).upper().replace("0X", "0x")) == expected
    with pytest.raises(ValueError):
        checksum(raw[:19])


def test_every_event_of_a_story_decodes_as_web3_decodes_it(net: DevNet) -> None:
    from tests.clients.test_clients import test_issue_split_finance_repay_redeem_through_clients

    start = net.chain.w3.eth.block_number
    test_issue_split_finance_repay_redeem_through_clients(net)
    logs = net.chain.w3.eth.get_logs({"fromBlock": start, "toBlock": "latest"})
    events_by_topic = {}
    for abi in artifacts.all_abis():
        for item in abi:
            if item.get("type") == "event":
                events_by_topic.setdefault(bytes(keccak(text=_event_sig(item))), []).append(item)
    decoder = default_event_decoder()
    names = set()
    for lg in logs:
        ours = decoder.decode(lg)
        assert ours is not None
        variants = [v for v in events_by_topic[bytes(HexBytes(lg["topics"][0]))]
                    if sum(1 for i in v["inputs"] if i.get("indexed")) + 1 == len(lg["topics"])]
        theirs = get_event_data(W3.codec, variants[0], lg)
        assert ours.name == theirs["event"]
        expected = {k: ("0x" + bytes(v).hex() if isinstance(v, (bytes, bytearray)) else v)
                    for k, v in theirs["args"].items()}
        assert ours.args == expected
        assert list(ours.args) == list(theirs["args"])
        assert ours.address == lg["address"] and ours.log_index == lg["logIndex"]
        names.add(ours.name)
    assert {"Applied", "Confirmed", "TransferValue", "Financed", "Repaid", "Redeemed",
            "Transfer"} <= names


def _event_sig(item: dict) -> str:  # type: ignore[type-arg]
    from scf_chain.chain.codec import abi_type

    return f"{item['name']}({','.join(abi_type(i) for i in item['inputs'])})"


def test_view_outputs_match_web3(net: DevNet) -> None:
    from tests.clients.test_clients import _confirmed

    slot, token_id = _confirmed(net, "INV-CODEC")
    w3 = net.chain.w3
    ours = AbiContract(w3, net.manifest.receivable_token, TOKEN_ABI)
    theirs = w3.eth.contract(address=to_checksum_address(net.manifest.receivable_token),
                             abi=TOKEN_ABI)
    for name, args in [("getReceivable", (slot,)), ("ownerOf", (token_id,)), ("policy", ()),
                       ("slotOf", (token_id,)), ("rolesOf", (net.address("core"),))]:
        a = getattr(ours.functions, name)(*args).call()
        b = getattr(theirs.functions, name)(*args).call()
        assert (list(a) if isinstance(a, (list, tuple)) else a) == \
            (list(b) if isinstance(b, (list, tuple)) else b), name


WORD_TYPES = ["address", "bool", "uint8", "uint64", "uint256", "int8", "int128", "int256",
              "bytes1", "bytes4", "bytes32"]
near_canonical = st.one_of(
    b32,
    st.tuples(st.integers(0, 31), st.binary(min_size=1, max_size=32)).map(
        lambda t: bytes(32 - len(t[1])) + t[1]),                       # small unsigned values
    st.binary(min_size=1, max_size=31).map(lambda b: b"\xff" * (32 - len(b)) + b),  # negatives
    st.binary(min_size=1, max_size=31).map(lambda b: b + bytes(32 - len(b))),  # left-aligned
)


@settings(max_examples=400, deadline=None)
@given(type_str=st.sampled_from(WORD_TYPES), word=near_canonical)
def test_fast_word_decoders_accept_and_decode_exactly_what_eth_abi_does(
        type_str: str, word: bytes) -> None:
    """The indexer's one-word decoders are a shortcut, not a second ABI: a word eth_abi rejects
    (bad padding, out of range) is refused by the shortcut too, and a word it accepts decodes
    to the same value."""
    from eth_abi import decode as abi_decode

    from scf_chain.contracts.events import _NotCanonical, _plain, _word_decoder

    dec = _word_decoder(type_str)
    assert dec is not None
    try:
        expected = _plain(abi_decode([type_str], word)[0])
    except Exception:  # noqa: BLE001 - any eth_abi refusal
        with pytest.raises(_NotCanonical):
            dec(word)
        return
    assert dec(word) == expected
