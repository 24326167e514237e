"""The gateway's own transaction signing gives exactly eth-account's bytes, for every field value
of both shapes it signs (EIP-1559 and EIP-155 legacy), creations included; other shapes are not
taken."""

from __future__ import annotations

from typing import Any

from eth_account import Account
from eth_account._utils.signing import sign_transaction_dict
from eth_utils import to_checksum_address
from hypothesis import given, settings
from hypothesis import strategies as st

from scf_chain.chain.signing import FastSigner

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
KEYS = st.integers(min_value=1, max_value=SECP256K1_N - 1).map(
    lambda k: k.to_bytes(32, "big"))
U256 = st.integers(min_value=0, max_value=2**256 - 1)
U64 = st.integers(min_value=0, max_value=2**64 - 1)
ADDRESS = st.binary(min_size=20, max_size=20).map(lambda b: to_checksum_address(b))


def _fields(draw: Any, fee: str) -> dict[str, Any]:
    tx: dict[str, Any] = {
        "chainId": draw(st.integers(min_value=1, max_value=2**32)),
        "nonce": draw(U64), "gas": draw(st.integers(min_value=21_000, max_value=2**63)),
        "value": draw(U256), "data": draw(st.binary(max_size=300))}
    if draw(st.booleans()):
        tx["to"] = draw(ADDRESS)
    if fee == "1559":
        tx["maxPriorityFeePerGas"] = draw(U256)
        tx["maxFeePerGas"] = draw(U256)
    else:
        tx["gasPrice"] = draw(U256)
    return tx


@st.composite
def transactions(draw: Any) -> tuple[bytes, dict[str, Any]]:
    return draw(KEYS), _fields(draw, draw(st.sampled_from(["1559", "legacy"])))


@settings(max_examples=300, deadline=None)
@given(transactions())
def test_fast_signing_is_eth_accounts_signing(case: tuple[bytes, dict[str, Any]]) -> None:
    key, tx = case
    signer = FastSigner(key)
    assert signer.handles(tx)
    _v, _r, _s, expected = sign_transaction_dict(Account.from_key(key)._key_obj, dict(tx))
    assert signer.sign(tx) == bytes(expected)


def test_other_shapes_are_left_to_eth_account() -> None:
    base = {"chainId": 1, "nonce": 0, "gas": 21_000, "value": 0, "data": b"",
            "to": "0x" + "11" * 20}
    assert not FastSigner.handles({**base, "gasPrice": 1, "accessList": []})  # type 1
    assert not FastSigner.handles({**base, "maxFeePerGas": 2, "maxPriorityFeePerGas": 1,
                                   "gasPrice": 1})  # mixed
    assert not FastSigner.handles({k: v for k, v in base.items() if k != "chainId"}
                                  | {"gasPrice": 1})  # no replay protection
