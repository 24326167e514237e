"""Request dependencies: the platform, the authenticated participant, role checks, idempotency."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Header, Request, Security
from fastapi.concurrency import run_in_threadpool
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from api.limits import RateLimited, RateLimiter, client_ip
from api.problems import Problem, problem_for, problem_response
from scf_chain.chain.codec import checksum
from scf_chain.chain.sender import journaling
from scf_chain.clients import Role
from scf_chain.db.models import GatewayParticipant
from scf_chain.errors import AuthError, OutcomeDiverged, OutcomePending, SignatureRequired
from scf_chain.platform.core import Platform
from scf_chain.platform.idempotency import (
    RETRY_AFTER_S,
    Claim,
    StoredResponse,
    fingerprint,
)

log = logging.getLogger("api")


async def get_platform(request: Request) -> Platform:
    """The one platform of the app (api/main.py puts it in the app's state): every route's
    parts come from it. Async, as every dependency that does not block: FastAPI runs a plain
    `def` dependency in its thread pool, a hop (and a GIL hand-over) per dependency per
    request."""
    platform: Platform = request.app.state.platform
    return platform


PlatformDep = Annotated[Platform, Depends(get_platform)]


def fresh_platform(request: Request) -> Platform:  # blocks (an indexer pass): a thread
    """The platform with its store indexed up to the chain head: reads see every earlier write.

    Writes answer from their own transaction's events and do not wait for the index; a read
    brings it up to date first (concurrent readers share one pass).
    """
    platform: Platform = request.app.state.platform
    platform.sync()
    return platform


FreshDep = Annotated[Platform, Depends(fresh_platform)]


# The two ways to present an API key, declared as OpenAPI security schemes (either will do).
bearer_scheme = HTTPBearer(auto_error=False, scheme_name="bearer",
                           description="Authorization: Bearer <API key>")
api_key_scheme = APIKeyHeader(name="X-API-Key", auto_error=False, scheme_name="apiKey",
                              description="X-API-Key: <API key>")


def _token_from(bearer: HTTPAuthorizationCredentials | None, x_api_key: str | None) -> str:
    from_bearer = bearer.credentials.strip() if bearer is not None else ""
    from_header = (x_api_key or "").strip()
    if from_bearer and from_header and from_bearer != from_header:
        # never let one header silently win: a client (or a proxy) adding the other would
        # otherwise act as whoever that key belongs to
        raise Problem(401, "conflicting_credentials", "Conflicting credentials",
                      "the Authorization and X-API-Key headers carry different keys; send one")
    if from_bearer or from_header:
        return from_bearer or from_header
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


async def current_caller(
    request: Request,
    platform: PlatformDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)] = None,
    x_api_key: Annotated[str | None, Security(api_key_scheme)] = None,
) -> Caller:
    """The participant of the request's API key: remembered for SCF_AUTH_CACHE_S after the
    store confirmed it (no query and no thread for most requests), else asked of the store in
    a worker thread."""
    limiter: RateLimiter | None = getattr(request.app.state, "limiter", None)
    try:
        token = _token_from(bearer, x_api_key)
        participant = platform.authenticator.cached(token)
        if participant is None:
            participant = await run_in_threadpool(platform.authenticator.authenticate, token)
        caller = Caller(participant)
    except (AuthError, Problem):
        # failed authentications are limited per client IP, like requests without a key
        wait = limiter.failed_authentication(client_ip(request.scope)) if limiter else 0.0
        if wait:
            raise RateLimited(wait) from None
        raise
    if limiter is not None:
        limiter.mark_valid(token)
    return caller


CallerDep = Annotated[Caller, Depends(current_caller)]


def writer(caller: Caller) -> Caller:
    """Auditors read everything and write nothing."""
    if caller.has(Role.AUDITOR) and not (caller.roles & ~Role.AUDITOR):
        raise Problem(403, "auditor_read_only", "Auditors cannot write",
                      "an auditor's key reads everything and writes nothing")
    return caller


async def writing_caller(caller: CallerDep) -> Caller:
    return writer(caller)


WriterDep = Annotated[Caller, Depends(writing_caller)]


def _replayed(status_code: int, body: Any) -> JSONResponse:
    resp = JSONResponse(body, status_code=status_code)
    if status_code >= 400:
        resp.media_type = "application/problem+json"
        resp.headers["content-type"] = "application/problem+json"
    resp.headers["Idempotent-Replayed"] = "true"
    return resp


def _outcome_pending(detail: str, tx_hashes: list[str]) -> JSONResponse:
    resp = problem_response(
        503, "outcome_pending", "The outcome is not known yet",
        f"{detail}. The request may have been applied on chain: it is not failed. Retry with "
        "the same Idempotency-Key and body to get its outcome (never with a new key).",
        tx_hashes=tx_hashes)
    resp.headers["Retry-After"] = str(RETRY_AFTER_S)
    return resp


@dataclass
class Idempotent:
    """Runs a POST's effect once per (participant, Idempotency-Key); replays the first answer.

    Every transaction the effect signs is journaled with the key before it is broadcast
    (`scf_chain.platform.idempotency`); once one may have left the process the key is never
    released, and a failure is answered `503 outcome_pending` (retry with the same key), not as
    a failure. A retry of such a request finishes it from the chain.
    """

    platform: Platform
    caller: Caller
    key: str
    request_hash: str
    # a participant that signs itself: preparing or submitting (api/custody.py)
    custody: Any = None

    def run(self, effect: Callable[[], Any], status_code: int = 200,
            stored_as: Callable[[Any], Any] | None = None) -> JSONResponse:
        """`stored_as` turns the answer into what may be kept and replayed (without secrets)."""
        if self.custody is not None:
            if self.custody.preparing:  # nothing is claimed, signed or sent
                return self.custody.prepare(effect)  # type: ignore[no-any-return]
            effect = self.custody.wrap(effect)
        store = self.platform.idempotency
        claim = store.begin(self.caller.name, self.key, self.request_hash)
        if isinstance(claim, StoredResponse):
            return _replayed(claim.status_code, claim.body)
        try:
            return self._run(claim, effect, status_code, stored_as)
        finally:
            store.end(claim)

    def _run(self, claim: Claim, effect: Callable[[], Any], status_code: int,
             stored_as: Callable[[Any], Any] | None) -> JSONResponse:
        store = self.platform.idempotency
        try:
            journal = store.open_journal(claim)
        except OutcomePending as exc:
            return _outcome_pending(str(exc), exc.tx_hashes)
        except Exception:
            log.warning("could not resolve idempotent request %s/%s now", claim.participant,
                        claim.key, exc_info=True)
            try:
                store.interrupt(claim)
            except Exception:  # it stays pending, owned by a run that is over: still an orphan
                pass
            return _outcome_pending("this request's earlier transactions cannot be resolved "
                                    "right now", [])
        try:
            with journaling(journal):
                result = effect()
        except SignatureRequired as exc:
            # the request needs its participant's next signature: the key stays claimed with
            # what was journaled, and the submit of that signature resumes it from there
            (store.interrupt if journal.may_have_left else store.release)(claim)
            # a prepare's answer is the step; a submit that needs another signature: accepted
            return JSONResponse(exc.body, status_code=200 if exc.preparing else 202)
        except OutcomeDiverged as exc:
            return self._diverged(claim, exc)
        except Exception as exc:
            status, code, title, detail, extra = problem_for(exc)
            left = journal.unconsumed()
            if left:
                mined = journal.mined()
                if any(o.state == "mined" for o in left):
                    return self._diverged(claim, OutcomeDiverged(
                        f"run again, the request stopped ({code}) before retracing what its "
                        "first attempt did", mined))
            if journal.may_have_left and (status >= 500 or left):
                # a transaction may be on chain: the key stays claimed, the client retries it
                log.warning("idempotent request %s/%s ended without an answer after "
                            "transactions %s: %s", claim.participant, claim.key,
                            journal.tx_hashes(), exc, exc_info=status >= 500)
                try:
                    store.interrupt(claim)
                except Exception:  # the record stays pending, owned by a run that is over
                    log.warning("could not mark %s/%s interrupted", claim.participant,
                                claim.key, exc_info=True)
                return _outcome_pending(f"{title} ({code}) after its transactions were signed",
                                        journal.tx_hashes())
            if status >= 500:
                # nothing left the process: free the key so the client may retry
                try:
                    store.release(claim)
                except Exception:
                    log.warning("could not free %s/%s", claim.participant, claim.key,
                                exc_info=True)
                raise
            problem = problem_response(status, code, title, detail, **extra)
            store.finish(claim, status, json.loads(bytes(problem.body)), journal.journaled)
            return problem
        left = journal.unconsumed()
        if left:
            mined = journal.mined()
            if any(o.state == "mined" for o in left):
                return self._diverged(claim, OutcomeDiverged(
                    "run again, the request finished without retracing what its first attempt "
                    "did", mined))
            store.interrupt(claim)
            return _outcome_pending("transactions of the first attempt are not mined yet",
                                    journal.tx_hashes())
        body = jsonable_encoder(result)
        try:
            store.finish(claim, status_code, stored_as(body) if stored_as else body,
                         journal.journaled)
        except Exception:
            if not journal.may_have_left:
                raise
            # the effect happened and its answer is here: give it; a retry rebuilds it
            log.warning("could not store the answer of %s/%s", claim.participant, claim.key,
                        exc_info=True)
        resp = JSONResponse(body, status_code=status_code)
        if claim.resumed:
            resp.headers["Idempotent-Replayed"] = "true"
        return resp

    def _diverged(self, claim: Claim, exc: OutcomeDiverged) -> JSONResponse:
        log.error("idempotent request %s/%s cannot be finished: %s", claim.participant,
                  claim.key, exc)
        problem = problem_response(409, "outcome_diverged",
                                   "The request cannot be finished as it began", str(exc),
                                   mined=exc.mined)
        self.platform.idempotency.finish(claim, 409, json.loads(bytes(problem.body)))
        return problem


async def idempotency(
    request: Request,
    platform: PlatformDep,
    caller: WriterDep,
    idempotency_key: Annotated[str | None, Header(
        description="Unique per intended effect; a retry with the same key and body gets the "
                    "first response and causes no second effect.")] = None,
) -> Idempotent:
    custody = getattr(request.state, "custody", None)  # set by api/custody.py
    if not idempotency_key and not (custody is not None and custody.preparing):
        raise Problem(400, "idempotency_key_missing", "Idempotency-Key header required",
                      "every POST needs an Idempotency-Key header (e.g. a UUID)")
    body = await request.body()
    return Idempotent(platform, caller, idempotency_key or "",
                      fingerprint(request.method, request.url.path, body), custody)


IdemDep = Annotated[Idempotent, Depends(idempotency)]
