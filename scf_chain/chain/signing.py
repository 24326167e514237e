"""Signing a transaction without eth-account's per-call validation: the same bytes, a quarter of
the CPU.

eth-account's `sign_transaction_dict` builds a typed-transaction object, validates and
normalises every field through formatter chains, then hashes and signs: about 300 µs a
transaction, most of it the validation of fields this process built itself. The gateway signs
one or more transactions per request, so here the two shapes it sends (EIP-1559, type 2; and
legacy with EIP-155 replay protection, for chains without a base fee) are encoded directly:
RLP of the fields, keccak, a recoverable secp256k1 signature by libsecp256k1 (coincurve; RFC
6979 deterministic, low s), the same bytes eth-account produces (tests/chain/test_signing.py
compares them). Anything else goes to eth-account.
"""

from __future__ import annotations

from typing import Any

import coincurve
import rlp
from eth_utils import keccak
from hexbytes import HexBytes

TYPE_2 = frozenset({"chainId", "nonce", "maxPriorityFeePerGas", "maxFeePerGas", "gas", "to",
                    "value", "data"})
LEGACY = frozenset({"chainId", "nonce", "gasPrice", "gas", "to", "value", "data"})


class FastSigner:
    """Signs the gateway's two transaction shapes for one private key."""

    def __init__(self, private_key: bytes) -> None:
        self._key = coincurve.PrivateKey(bytes(private_key))

    @staticmethod
    def handles(tx: dict[str, Any]) -> bool:
        """Whether `tx` (without `from`) is one of the shapes signed here; a creation (no
        `to`) is too."""
        keys = set(tx) | {"to"}
        return keys == TYPE_2 or keys == LEGACY

    def sign(self, tx: dict[str, Any]) -> bytes:
        """The signed raw transaction for a `tx` that `handles` accepts."""
        to = bytes(HexBytes(tx["to"])) if tx.get("to") else b""
        data = bytes(HexBytes(tx.get("data") or b""))
        chain_id, nonce, gas, value = (int(tx["chainId"]), int(tx["nonce"]), int(tx["gas"]),
                                       int(tx.get("value") or 0))
        if "maxFeePerGas" in tx:
            fields: list[Any] = [chain_id, nonce, int(tx["maxPriorityFeePerGas"]),
                                 int(tx["maxFeePerGas"]), gas, to, value, data, []]
            y, r, s = self._signature(keccak(b"\x02" + rlp.encode(fields)))
            return b"\x02" + rlp.encode([*fields, y, r, s])
        fields = [nonce, int(tx["gasPrice"]), gas, to, value, data]
        y, r, s = self._signature(keccak(rlp.encode([*fields, chain_id, 0, 0])))
        return rlp.encode([*fields, y + 35 + 2 * chain_id, r, s])  # EIP-155

    def _signature(self, digest: bytes) -> tuple[int, int, int]:
        sig = self._key.sign_recoverable(digest, hasher=None)  # r (32) s (32) recovery id (1)
        return sig[64], int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:64], "big")
