"""Tokens: split (拆分), merge, transfer (流转) by the holder; read one's own tokens."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import Caller, CallerDep, FreshDep, IdemDep, PlatformDep
from api.routes.common import Limit, Offset, TokenPath, as_holder, party, tx, uint
from api.schemas import (
    MergeIn,
    MovedOut,
    Page,
    RedeemedTokensOut,
    RedeemManyIn,
    RedemptionOut,
    SplitIn,
    SplitManyIn,
    SplitManyOut,
    SplitPartOut,
    TokenOut,
    TransferIn,
    TransferredOut,
)
from scf_chain.audit.visibility import Viewer, sees_holding
from scf_chain.clients import SplitMany, ValueMoved
from scf_chain.db.models import Receivable, Token
from scf_chain.errors import NotFound
from scf_chain.platform.core import Platform
from scf_chain.platform.operations import tokens_of

router = APIRouter(prefix="/tokens", tags=["tokens"])


def out(t: Token) -> TokenOut:
    return TokenOut(token_id=t.token_id, slot=t.slot, owner=t.owner, value=t.value,
                    parent_token_id=t.parent_token_id, burned=t.burned, redeemed=t.redeemed)


def load_visible(platform: Platform, caller: Caller, token_id: int) -> Token:
    platform.sync()
    with platform.sessions() as s:
        t = s.get(Token, token_id)
        r = s.get(Receivable, t.slot) if t is not None else None
    # a token is its holder's: others see it as the debtor, an auditor, the operator
    # (docs/visibility.md)
    if t is None or r is None or not sees_holding(Viewer(caller.address, caller.reads_everything),
                                                  r.debtor, t.owner):
        raise NotFound(f"no token {token_id} visible to {caller.name}")
    return t


def moved(m: ValueMoved) -> MovedOut:
    return MovedOut(from_token_id=m.from_token_id, token_id=m.to_token_id, value=m.value,
                    tx=tx(m.tx))


@router.post("/{token_id}/split", status_code=201, response_model=MovedOut)
def split(token_id: TokenPath, body: SplitIn, platform: PlatformDep, idem: IdemDep) -> JSONResponse:
    """Move part of a token's value to another participant, as a new token of the same receivable."""
    to = party(platform, body.to)
    return idem.run(lambda: moved(as_holder(platform, idem.caller, uint(token_id), lambda: platform.token(
        idem.caller.participant).split(uint(token_id), to, body.value))), 201)


@router.post("/{token_id}/split-many", status_code=201, response_model=SplitManyOut)
def split_many(token_id: TokenPath, body: SplitManyIn, platform: PlatformDep, idem: IdemDep):  # type: ignore[no-untyped-def]
    """Move value of a token to many participants in one transaction: each part's `value` to its
    `to`, as a new token of the same receivable, all parts or none. Each part is checked as a
    single split is (registered recipient, before maturity, a positive multiple of the minimum
    unit; together within the token's value), and the whole batch is one idempotent request:
    a retry with the same Idempotency-Key replays the first answer and moves nothing again.
    Problems: 422 `validation_error` for no parts or more than 100; 422 `contract_InvalidValue` for a zero or off-unit value and
    `contract_InsufficientValue` for more than the token holds; 403 `contract_NotRegistered` for
    an unregistered recipient; 422 `unknown_participant` for a recipient that is neither a name
    nor an address."""
    to = [party(platform, p.to) for p in body.parts]
    values = [p.value for p in body.parts]

    def effect() -> SplitManyOut:
        done: SplitMany = as_holder(platform, idem.caller, uint(token_id), lambda: platform.token(
            idem.caller.participant).split_many(uint(token_id), to, values))
        return SplitManyOut(from_token_id=done.from_token_id, tx=tx(done.tx), parts=[
            SplitPartOut(to=p.to, token_id=p.token_id, value=p.value) for p in done.parts])

    return idem.run(effect, 201)


@router.post("/batch/redeem", response_model=RedeemedTokensOut)
def redeem_many(body: RedeemManyIn, platform: PlatformDep, idem: IdemDep):  # type: ignore[no-untyped-def]
    """Pay the holders of many tokens, of any receivables, what is due to each now, in one
    transaction (the contract's `redeemBatch`): floor(value × (repaid − checkpoint) / (face −
    checkpoint)) to each token's holder, the same value burned. Anyone who sees the tokens may
    trigger it (the money goes to the holders); a token not visible to the caller is 404. Tokens
    with nothing due now are skipped and listed in `skipped`, so a batch always goes through.
    Idempotent as a whole: a retry with the same Idempotency-Key replays the first answer.
    Problems: 422 `validation_error` for an empty list, a repeated id or more than 100 ids."""
    token_ids = list(body.token_ids)
    for token_id in token_ids:
        load_visible(platform, idem.caller, token_id)

    def effect() -> RedeemedTokensOut:
        done = platform.token(idem.caller.participant).redeem_batch(token_ids)
        paid = {r.token_id for r in done.redemptions}
        return RedeemedTokensOut(
            amount=done.amount, tx=tx(done.tx),
            redemptions=[RedemptionOut(token_id=r.token_id, holder=r.holder, amount=r.amount)
                         for r in done.redemptions],
            skipped=[t for t in token_ids if t not in paid])

    return idem.run(effect)


@router.post("/{token_id}/merge", response_model=MovedOut)
def merge(token_id: TokenPath, body: MergeIn, platform: PlatformDep, idem: IdemDep) -> JSONResponse:
    """Move value into another token of the same receivable."""
    return idem.run(lambda: moved(as_holder(platform, idem.caller, uint(token_id), lambda: platform.token(
        idem.caller.participant).merge(uint(token_id), body.into_token_id, body.value))))


@router.post("/{token_id}/transfer", response_model=TransferredOut)
def transfer(token_id: TokenPath, body: TransferIn, platform: PlatformDep, idem: IdemDep) -> JSONResponse:
    """Hand a whole token to another participant."""
    to = party(platform, body.to)

    def effect() -> TransferredOut:
        t = as_holder(platform, idem.caller, uint(token_id),
                      lambda: platform.token(idem.caller.participant).transfer(uint(token_id), to))
        return TransferredOut(token_id=t.token_id, to=t.to_address, tx=tx(t.tx))

    return idem.run(effect)


@router.get("/{token_id}", response_model=TokenOut)
def get_token(token_id: TokenPath, platform: FreshDep, caller: CallerDep) -> TokenOut:
    return out(load_visible(platform, caller, uint(token_id)))


@router.get("", response_model=Page[TokenOut])
def list_tokens(platform: FreshDep, caller: CallerDep, limit: Limit = 50,
                offset: Offset = 0) -> Page[TokenOut]:
    """The caller's live tokens."""
    rows, total = tokens_of(platform, caller.address, limit, offset)
    return Page[TokenOut](items=[out(t) for t in rows], total=total, limit=limit, offset=offset)
