"""Small helpers the routers share: path ids, transaction summaries, party lookup, paging."""

from __future__ import annotations

from typing import Annotated

from eth_utils import keccak
from fastapi import Path, Query

from api.problems import Problem
from api.schemas import UINT_PATTERN, Tx
from scf_chain.clients import TxResult
from scf_chain.platform.core import NotFound, Platform

SlotPath = Annotated[str, Path(pattern=UINT_PATTERN, description="receivable (ERC-3525 slot)")]
TokenPath = Annotated[str, Path(pattern=UINT_PATTERN, description="token id")]
OfferPath = Annotated[str, Path(pattern=UINT_PATTERN, description="offer id")]
Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0, le=10**9)]


def uint(value: str) -> int:
    n = int(value)
    if n >= 2**256:
        raise Problem(422, "validation_error", "The request is invalid", "id out of range")
    return n


def tx(result: TxResult) -> Tx:
    return Tx(tx_hash=result.tx_hash, block_number=result.block_number, gas_used=result.gas_used)


def party(platform: Platform, who: str) -> str:
    try:
        return platform.resolve(who)
    except NotFound:
        raise Problem(422, "unknown_participant", "Unknown participant",
                      f"{who!r} is neither a participant name nor an address") from None


def ref32(text: str) -> bytes:
    """A reference as bytes32: a 0x-hex 32-byte value as is, any other text hashed."""
    if text.startswith("0x") and len(text) == 66:
        try:
            return bytes.fromhex(text[2:])
        except ValueError:
            pass
    return keccak(text=text) if text else bytes(32)
