"""Small helpers the routers share: path ids, transaction summaries, party lookup, paging."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

from eth_utils import keccak
from fastapi import Path, Query

from api.deps import Caller
from api.problems import Problem, problem_for
from api.schemas import UINT_PATTERN, Tx
from scf_chain.clients import TxResult
from scf_chain.errors import ContractRevert, NotFound
from scf_chain.platform.core import Platform

T = TypeVar("T")

# What the contract answers a caller acting on a token it does not hold: a value move without an
# allowance, an offer, a whole-token transfer from the wrong owner, an unapproved operation.
NOT_HOLDER_REVERTS = {"InsufficientAllowance", "NotTokenOwner", "WrongFrom", "NotAuthorized"}

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


def as_holder(platform: Platform, caller: Caller, token_id: int, act: Callable[[], T]) -> T:
    """Run `act` on the caller's token as its holder; a token it does not hold is named as such
    (403 not_token_owner), whichever way the contract refused it.

    The contract lets a non-owner move value with an allowance, so a holder whose token has just
    moved away gets `InsufficientAllowance` for a split: true, but not the reason; an offer or a
    transfer gets `NotTokenOwner` or `WrongFrom`. The chain's owner (read after the revert)
    decides: the caller still holding the token keeps the contract's own answer.
    """
    try:
        return act()
    except ContractRevert as exc:
        if exc.error_name not in NOT_HOLDER_REVERTS:
            raise
        try:
            owner = platform.token(caller.participant).owner_of(token_id)
        except ContractRevert:
            raise exc from None  # no such token any more: the contract's answer stands
        if owner.lower() == caller.address.lower():
            raise
        _, _, _, _, extra = problem_for(exc)
        raise Problem(403, "not_token_owner", "Not the token's holder",
                      f"token {token_id} is not held by {caller.name} (it may have been "
                      "transferred away or be in escrow)", **extra) from exc
