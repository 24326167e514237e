"""Request dependencies: the platform, the authenticated participant, role checks, idempotency."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from api.problems import Problem, problem_for, problem_response
from scf_chain.chain.codec import checksum
from scf_chain.clients import Role
from scf_chain.db.models import GatewayParticipant
from scf_chain.errors import TransactionTimeout
from scf_chain.platform.apikeys import AuthError, authenticate
from scf_chain.platform.core import Platform
from scf_chain.platform.idempotency import fingerprint


def get_platform(request: Request) -> Platform:
    return request.app.state.platform  # type: ignore[no-any-return]


PlatformDep = Annotated[Platform, Depends(get_platform)]


def fresh_platform(request: Request) -> Platform:
    """The platform with its store indexed up to the chain head: reads see every earlier write.

    Writes answer from their own transaction's events and do not wait for the index; a read
    brings it up to date first (concurrent readers share one pass).
    """
    platform = get_platform(request)
    platform.sync()
    return platform


FreshDep = Annotated[Platform, Depends(fresh_platform)]


def _token_from(authorization: str | None, x_api_key: str | None) -> str:
    if x_api_key:
        return x_api_key.strip()
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    raise AuthError("send the API key as 'Authorization: Bearer <key>' or 'X-API-Key: <key>'")


@dataclass(frozen=True)
class Caller:
    """The authenticated participant of a request."""

    participant: GatewayParticipant

    @property
    def name(self) -> str:
        return self.participant.name

    @property
    def address(self) -> str:
        """Checksummed (the store keeps addresses in lowercase)."""
        return checksum(self.participant.address)

    @property
    def roles(self) -> Role:
        return Role(self.participant.roles)

    def has(self, role: Role) -> bool:
        return bool(self.roles & role)

    @property
    def reads_everything(self) -> bool:
        return self.has(Role.AUDITOR) or self.has(Role.OPERATOR)

    def require(self, *roles: Role) -> None:
        if not any(self.has(r) for r in roles):
            wanted = " or ".join(r.name.lower() for r in roles if r.name)
            raise Problem(403, "forbidden", "Not allowed for this participant",
                          f"this operation needs the {wanted} role")


def current_caller(
    platform: PlatformDep,
    authorization: Annotated[str | None, Header()] = None,
    x_api_key: Annotated[str | None, Header()] = None,
) -> Caller:
    token = _token_from(authorization, x_api_key)
    with platform.sessions() as s:
        return Caller(authenticate(s, token))


CallerDep = Annotated[Caller, Depends(current_caller)]


def writer(caller: Caller) -> Caller:
    """Auditors read everything and write nothing."""
    if caller.has(Role.AUDITOR) and not (caller.roles & ~Role.AUDITOR):
        raise Problem(403, "auditor_read_only", "Auditors cannot write",
                      "an auditor's key reads everything and writes nothing")
    return caller


def writing_caller(caller: CallerDep) -> Caller:
    return writer(caller)


WriterDep = Annotated[Caller, Depends(writing_caller)]


@dataclass
class Idempotent:
    """Runs a POST's effect once per (participant, Idempotency-Key); replays the first answer."""

    platform: Platform
    caller: Caller
    key: str
    request_hash: str

    def run(self, effect: Callable[[], Any], status_code: int = 200) -> JSONResponse:
        stored = self.platform.idempotency.begin(self.caller.name, self.key, self.request_hash)
        if stored is not None:
            resp = JSONResponse(stored.body, status_code=stored.status_code)
            if stored.status_code >= 400:
                resp.media_type = "application/problem+json"
                resp.headers["content-type"] = "application/problem+json"
            resp.headers["Idempotent-Replayed"] = "true"
            return resp
        try:
            result = effect()
        except TransactionTimeout:
            self.platform.idempotency.abandon(self.caller.name, self.key, outcome_unknown=True)
            raise
        except Exception as exc:
            status, code, title, detail, extra = problem_for(exc)
            if status >= 500:
                # nothing is known to have happened: free the key so the client may retry
                self.platform.idempotency.abandon(self.caller.name, self.key)
                raise
            problem = problem_response(status, code, title, detail, **extra)
            self.platform.idempotency.finish(self.caller.name, self.key, status,
                                             json.loads(bytes(problem.body)))
            return problem
        body = jsonable_encoder(result)
        self.platform.idempotency.finish(self.caller.name, self.key, status_code, body)
        return JSONResponse(body, status_code=status_code)


async def idempotency(
    request: Request,
    platform: PlatformDep,
    caller: WriterDep,
    idempotency_key: Annotated[str | None, Header(
        description="Unique per intended effect; a retry with the same key and body gets the "
                    "first response and causes no second effect.")] = None,
) -> Idempotent:
    if not idempotency_key:
        raise Problem(400, "idempotency_key_missing", "Idempotency-Key header required",
                      "every POST needs an Idempotency-Key header (e.g. a UUID)")
    body = await request.body()
    return Idempotent(platform, caller, idempotency_key,
                      fingerprint(request.method, request.url.path, body))


IdemDep = Annotated[Idempotent, Depends(idempotency)]
