"""Participants (operator): register with roles and keys, issue API keys, set policy and limits."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import CallerDep, IdemDep, PlatformDep
from api.problems import Problem
from api.routes.common import tx
from api.schemas import (
    ApiKeyInfo,
    ApiKeyOut,
    BalancesOut,
    CreditLimitIn,
    ExternalParticipantIn,
    KeyRotationOut,
    ParticipantCreated,
    ParticipantIn,
    ParticipantOut,
    PolicyIn,
    PolicyIO,
    RolesIn,
    Tx,
)
from scf_chain.clients import Role
from scf_chain.db.models import GatewayParticipant
from scf_chain.errors import NotFound
from scf_chain.platform import rotation
from scf_chain.platform.core import role_names, roles_from_names

router = APIRouter(prefix="/participants", tags=["participants"])
policy_router = APIRouter(prefix="/policy", tags=["participants"])


def out(p: GatewayParticipant) -> ParticipantOut:
    return ParticipantOut(name=p.name, display_name=p.display_name, address=p.address,
                          roles=role_names(p.roles), created_at=p.created_at, custody=p.custody)


def _without_secret(body: dict[str, Any]) -> dict[str, Any]:
    """A key-issuing answer as it is kept for replays: the secret is never stored anywhere."""
    return {**body, "api_key": None, "detail": (
        "this answer is replayed for a retried Idempotency-Key: the API key's secret was "
        f"returned once, in the first answer, and is not kept. If it was lost, issue a new key "
        f"(POST /participants/{{name}}/api-keys) and revoke key {body.get('key_id')}")}


@router.post("", status_code=201, response_model=ParticipantCreated)
def create_participant(body: ExternalParticipantIn | ParticipantIn, platform: PlatformDep,
                       idem: IdemDep) -> JSONResponse:
    """Create a participant: a signing key in the keystore (or, with `custody: external`, its
    own `address`: it signs itself), its roles on chain, an API key."""
    idem.caller.require(Role.OPERATOR)
    address = body.address if isinstance(body, ExternalParticipantIn) else None

    def effect() -> ParticipantCreated:
        p, key = platform.create_participant(body.name, body.display_name,
                                             roles_from_names(list(body.roles)), body.dev_funds,
                                             external_address=address)
        return ParticipantCreated(participant=out(p), key_id=key.key_id, api_key=key.token)

    return idem.run(effect, 201, stored_as=_without_secret)


@router.get("", response_model=list[ParticipantOut])
def list_participants(platform: PlatformDep, caller: CallerDep) -> list[ParticipantOut]:
    """Everyone's name, address and roles (participants need them to address each other)."""
    return [out(p) for p in platform.participants()]


@router.get("/me", response_model=ParticipantOut)
def me(caller: CallerDep) -> ParticipantOut:
    return out(caller.participant)


@router.get("/{name}", response_model=ParticipantOut)
def get_participant(name: str, platform: PlatformDep, caller: CallerDep) -> ParticipantOut:
    return out(platform.participant(name))


@router.get("/{name}/balances", response_model=BalancesOut)
def balances(name: str, platform: PlatformDep, caller: CallerDep) -> BalancesOut:
    """Gas (wei) and, per settlement token, the balance and the allowance to the receivable
    contract (the participant itself, the operator, auditors; to others it does not exist)."""
    if not (caller.reads_everything or caller.name == name):
        raise NotFound(f"no participant named {name!r} visible to {caller.name}")
    return BalancesOut.model_validate(platform.balances(name))


@router.post("/{name}/roles", response_model=ParticipantOut)
def set_roles(name: str, body: RolesIn, platform: PlatformDep, idem: IdemDep) -> JSONResponse:
    idem.caller.require(Role.OPERATOR)
    return idem.run(lambda: out(platform.set_roles(name, roles_from_names(list(body.roles)))))


def _own_or_operator(caller: Any, name: str) -> None:
    if not (caller.has(Role.OPERATOR) or caller.name == name):
        raise Problem(403, "forbidden", "Not allowed", "only the operator or the participant")


@router.post("/{name}/api-keys", status_code=201, response_model=ApiKeyOut)
def issue_api_key(name: str, platform: PlatformDep, idem: IdemDep) -> JSONResponse:
    """Another API key for a participant (e.g. to rotate: issue, switch, revoke the old)."""
    _own_or_operator(idem.caller, name)

    def effect() -> ApiKeyOut:
        key = platform.issue_api_key(name)
        return ApiKeyOut(key_id=key.key_id, participant=name, api_key=key.token)

    return idem.run(effect, 201, stored_as=_without_secret)


def _key_info(k: Any) -> ApiKeyInfo:
    return ApiKeyInfo(key_id=k.key_id, participant=k.participant, created_at=k.created_at,
                      revoked_at=k.revoked_at)


@router.get("/{name}/api-keys", response_model=list[ApiKeyInfo])
def list_api_keys(name: str, platform: PlatformDep, caller: CallerDep) -> list[ApiKeyInfo]:
    """A participant's API keys: ids and times only (secrets are never kept)."""
    _own_or_operator(caller, name)
    return [_key_info(k) for k in platform.api_keys(name)]


@router.delete("/{name}/api-keys/{key_id}", response_model=ApiKeyInfo)
def revoke_api_key(name: str, key_id: str, platform: PlatformDep,
                   caller: CallerDep) -> ApiKeyInfo:
    """Revoke an API key at once (a leaked key; the old key after switching to a new one). The
    operator or the participant itself (auditors too: it changes no business state). Revoking
    a revoked key changes nothing, so a retry is safe without an Idempotency-Key."""
    _own_or_operator(caller, name)
    return _key_info(platform.revoke_api_key(name, key_id))


@router.post("/{name}/rotate-key", response_model=KeyRotationOut)
def rotate_key(name: str, platform: PlatformDep, idem: IdemDep) -> JSONResponse:
    """Replace a participant's signing key: the new address gets its roles, tokens, debts
    (receivables naming it as debtor, moved on chain with the old key's consent), settlement
    money, allowances and gas; the old loses its roles. `operator` hands the operator role over
    in two steps. Refused (409 rotation_blocked, with the reasons) while something bound to the
    old address cannot move; a rotation cut off part-way is finished by calling again."""
    idem.caller.require(Role.OPERATOR)

    def effect() -> KeyRotationOut:
        r = rotation.rotate(platform, name)
        return KeyRotationOut(participant=r.participant, old_address=r.old_address,
                              new_address=r.new_address, resumed=r.resumed,
                              tokens_moved=r.tokens_moved, debts_moved=r.debts_moved,
                              money_moved=r.money_moved, allowances_given=r.allowances_given,
                              gas_moved_wei=r.gas_moved_wei, tx_hashes=r.tx_hashes)

    return idem.run(effect)


@router.post("/{name}/credit-limit", response_model=Tx)
def set_credit_limit(name: str, body: CreditLimitIn, platform: PlatformDep, idem: IdemDep) -> JSONResponse:
    """Cap what a core enterprise may have outstanding."""
    idem.caller.require(Role.OPERATOR)

    def effect() -> Tx:
        p = platform.participant(name)
        return tx(platform.token(platform.operator_account).set_credit_limit(p.address, body.limit))

    return idem.run(effect)


@policy_router.get("", response_model=PolicyIO)
def get_policy(platform: PlatformDep, caller: CallerDep) -> PolicyIO:
    p = platform.token(platform.operator_account).policy()
    return PolicyIO(min_unit=p.min_unit, max_tenor_s=p.max_tenor, split_allowed=p.split_allowed,
                    transfer_allowed=p.transfer_allowed)


@policy_router.post("", response_model=Tx)
def set_policy(body: PolicyIn, platform: PlatformDep, idem: IdemDep) -> JSONResponse:
    idem.caller.require(Role.OPERATOR)
    return idem.run(lambda: tx(platform.token(platform.operator_account).set_policy(
        body.min_unit, body.max_tenor_s, body.split_allowed, body.transfer_allowed)))
