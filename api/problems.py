"""RFC 9457 problem documents: every error leaves as one, with a stable `code`."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.applications import Starlette
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from scf_chain.db.outage import is_disconnect, is_store_outage
from scf_chain.errors import (
    ContractRevert,
    InsufficientGas,
    Kind,
    ScfError,
    TransactionTimeout,
)

log = logging.getLogger("api")
PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://scf-chain.dev/problems/"

# The one place a kind of error becomes an HTTP status. Contract reverts (Kind.REVERTED) take
# theirs from REVERT_STATUS below, by the Solidity error's name. tests/api/test_problems.py
# checks that every kind has a status here or there.
STATUS: dict[Kind, int] = {
    Kind.INVALID: 422,
    Kind.UNAUTHORIZED: 401,
    Kind.FORBIDDEN: 403,
    Kind.NOT_FOUND: 404,
    Kind.CONFLICT: 409,
    Kind.INTERNAL: 500,
    Kind.UNAVAILABLE: 503,
    Kind.TIMED_OUT: 504,
}

# Every contract error (the ABIs' closed list, scf_chain.chain.reverts.CONTRACT_ERRORS) and every
# revert the decoder makes itself (SYNTHETIC_ERRORS), with its status: 403 "you may not do this",
# 409 "not in this state", 422 "about the values sent". tests/api/test_problems.py checks that the
# keys are exactly those names, so a new contract error must be given a status here.
_FORBIDDEN, _CONFLICT, _INVALID = STATUS[Kind.FORBIDDEN], STATUS[Kind.CONFLICT], STATUS[Kind.INVALID]
REVERT_STATUS: dict[str, int] = {
    "InsufficientAllowance": _FORBIDDEN,
    "MissingRole": _FORBIDDEN,
    "NotAnchorer": _FORBIDDEN,
    "NotAuthorized": _FORBIDDEN,
    "NotCreditor": _FORBIDDEN,
    "NotDebtor": _FORBIDDEN,
    "NotInitiator": _FORBIDDEN,
    "NotOfferFinancier": _FORBIDDEN,
    "NotOfferHolder": _FORBIDDEN,
    "NotOperator": _FORBIDDEN,
    "NotPendingOperator": _FORBIDDEN,
    "NotRegistered": _FORBIDDEN,
    "NotRootAuthority": _FORBIDDEN,
    "NotTokenOwner": _FORBIDDEN,
    "WrongFrom": _FORBIDDEN,
    "AlreadyAnchored": _CONFLICT,
    "ApprovalEpochExhausted": _CONFLICT,
    "CollectionNotAuthorized": _CONFLICT,
    "DebtNotOpen": _CONFLICT,
    "EnforcedPause": _CONFLICT,
    "EvidenceRegistryNotSet": _CONFLICT,
    "InvoiceAlreadyUsed": _CONFLICT,
    "NotActive": _CONFLICT,
    "NoDebtorSuccessor": _CONFLICT,
    "NotMatured": _CONFLICT,
    "NotPending": _CONFLICT,
    "NothingToCollect": _CONFLICT,
    "NothingToRedeem": _CONFLICT,
    "OfferExpired": _CONFLICT,
    "OfferNotOpen": _CONFLICT,
    "SlotMatured": _CONFLICT,
    "TokenInEscrow": _CONFLICT,
    "UnknownRoot": _CONFLICT,
    "ApproveToOwner": _INVALID,
    "CreditLimitExceeded": _INVALID,
    "DecimalsMismatch": _INVALID,
    "ERC20InsufficientAllowance": _INVALID,
    "ERC20InsufficientBalance": _INVALID,
    "ERC20InvalidApprover": _INVALID,
    "ERC20InvalidReceiver": _INVALID,
    "ERC20InvalidSender": _INVALID,
    "ERC20InvalidSpender": _INVALID,
    "ERC721InvalidReceiver": _INVALID,
    "EvidenceRegistryAlreadySet": _INVALID,
    "InsufficientValue": _INVALID,
    "InvalidBatch": _INVALID,
    "InvalidEvidence": _INVALID,
    "InvalidExpiry": _INVALID,
    "InvalidMaturity": _INVALID,
    "InvalidMinUnit": _INVALID,
    "InvalidPrice": _INVALID,
    "InvalidSuccessor": _INVALID,
    "InvalidRecipients": _INVALID,
    "InvalidValue": _INVALID,
    "NonexistentToken": _INVALID,
    "NotOwner": _INVALID,
    "Overpayment": _INVALID,
    "ReceiverRejected": _INVALID,
    "ReentrancyGuardReentrantCall": _INVALID,
    "Refused": _INVALID,
    "SafeERC20FailedOperation": _INVALID,
    "SameToken": _INVALID,
    "SettlementTokenNotAllowed": _INVALID,
    "SlotMismatch": _INVALID,
    "SplitNotAllowed": _INVALID,
    "TenorAboveCeiling": _INVALID,
    "TenorTooLong": _INVALID,
    "TooManyRecipients": _INVALID,
    "TransferAmountMismatch": _INVALID,
    "TransferNotAllowed": _INVALID,
    "UnknownOffer": _INVALID,
    "UnknownSlot": _INVALID,
    "ValueTooLarge": _INVALID,
    "ZeroAddress": _INVALID,
    "ZeroAmount": _INVALID,
    "ZeroRoot": _INVALID,
    # made by the decoder, not declared in an ABI
    "EmptyRevert": _INVALID,
    "Error": _INVALID,
    "OutOfGas": _INVALID,
    "Panic": _INVALID,
    "UnknownError": _INVALID,
}


# Problems a client should retry after a pause, with the pause (seconds) sent as Retry-After.
RETRY_AFTER_S = {"store_unavailable": 2}


class Problem(Exception):
    """Raise from a route to answer with a problem document."""

    def __init__(self, status: int, code: str, title: str, detail: str | None = None,
                 **extra: Any) -> None:
        super().__init__(detail or title)
        self.status, self.code, self.title, self.detail, self.extra = (status, code, title,
                                                                       detail, extra)


class ProblemDocument(BaseModel):
    """An RFC 9457 problem document; `code` is stable, other members depend on the problem."""

    model_config = ConfigDict(extra="allow", title="Problem")

    type: str = Field(description="a URI naming the problem type (TYPE_BASE + code)")
    title: str
    status: int = Field(ge=400, le=599)
    code: str = Field(description="stable, machine-readable: switch on this")
    detail: str | None = None
    instance: str | None = None


def problem_response(status: int, code: str, title: str, detail: str | None = None,
                     instance: str | None = None, headers: Mapping[str, str] | None = None,
                     **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {"type": TYPE_BASE + code, "title": title, "status": status,
                            "code": code}
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    body.update(extra)
    response = JSONResponse(body, status_code=status, media_type=PROBLEM_JSON,
                            headers=dict(headers or {}))
    if code in RETRY_AFTER_S:
        response.headers["Retry-After"] = str(RETRY_AFTER_S[code])
    if status == 401 and "www-authenticate" not in response.headers:
        response.headers["WWW-Authenticate"] = 'Bearer realm="scf-chain"'
    return response


def route_leaves(routes: Any) -> Any:
    """Every route, those of included routers too (FastAPI keeps an included router whole)."""
    for route in routes:
        if hasattr(route, "effective_candidates"):  # FastAPI's included router
            yield from route_leaves(route.effective_candidates())
        else:
            yield route


_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def allowed_methods(app: Starlette, scope: Scope) -> list[str]:
    """Every method some route serves at this path (Starlette names only the first route's):
    the request is matched again under each method."""
    return [m for m in _METHODS
            if any(route.matches({**scope, "method": m})[0] is Match.FULL for route in app.routes)]


class ProblemHTTPException(StarletteHTTPException):
    """An HTTP-level refusal raised inside the app (not an error of the core), with its code."""

    def __init__(self, status: int, code: str, title: str, detail: str,
                 headers: Mapping[str, str] | None = None, **extra: Any) -> None:
        super().__init__(status, title, headers=dict(headers) if headers else None)
        self.code, self.problem_detail, self.extra = code, detail, extra


def _jsonable(v: Any) -> Any:
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return v
    if isinstance(v, int):
        return str(v)
    if isinstance(v, (bytes, bytearray)):
        return "0x" + bytes(v).hex()
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    return str(v)


def revert_status(name: str) -> int:
    return REVERT_STATUS[name]


def _detail(exc: ScfError) -> str:
    """What a client is told: the message, with what to do next where the gateway knows it;
    never the message of our own faults (it is in the server log)."""
    if exc.kind is Kind.INTERNAL:
        return "see the server log"
    if isinstance(exc, InsufficientGas):
        return (f"{exc.address} holds {exc.balance_wei} wei"
                + (f", the transaction needs up to {exc.needed_wei} wei" if exc.needed_wei else "")
                + ": fund it with the chain's native currency (dev chains: POST /dev/fund) "
                "and send the request again with a new Idempotency-Key")
    if isinstance(exc, TransactionTimeout):
        return f"{exc}; the transaction may still be mined: check state before retrying"
    return str(exc)


def problem_for(exc: BaseException) -> tuple[int, str, str, str, dict[str, Any]]:
    """(status, code, title, detail, extra) for an exception from the core."""
    if isinstance(exc, Problem):
        return exc.status, exc.code, exc.title, exc.detail or "", exc.extra
    if isinstance(exc, ScfError):
        status = (revert_status(exc.error_name) if isinstance(exc, ContractRevert)
                  else STATUS[exc.kind])
        return (status, exc.code, exc.title, _detail(exc),
                {k: _jsonable(v) for k, v in exc.facts().items()})
    if is_store_outage(exc):
        return (503, "store_unavailable", "The store is unavailable",
                "the database cannot be reached right now; retry after the Retry-After delay",
                {})
    return 500, "internal_error", "Internal server error", "see the server log", {}


class StoreOutageMiddleware:
    """Answers a store outage with 503 `store_unavailable` and Retry-After, never 500.

    A GET or HEAD whose database connection died under it (the pool hands out a tested
    connection, but a restart can cut it mid-request) is run once more on a fresh connection
    before the outage is reported: reads are idempotent. Writes are not retried here.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False
        received: list[Message] = []  # the request body, replayed to a second attempt

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        attempts = 2 if scope["method"] in ("GET", "HEAD") else 1
        for attempt in range(1, attempts + 1):
            replay = list(received)

            async def replaying_receive(replay: list[Message] = replay) -> Message:
                if replay:
                    return replay.pop(0)
                message = await receive()
                if message["type"] == "http.request":
                    received.append(message)
                return message

            try:
                await self.app(scope, replaying_receive, tracking_send)
                return
            except Exception as exc:
                if started or not is_store_outage(exc):
                    raise
                if attempt < attempts and is_disconnect(exc):
                    log.warning("%s %s: the store dropped its connection (%s); retrying once",
                                scope["method"], scope["path"], exc.__class__.__name__)
                    continue
                log.warning("%s %s: store unavailable: %s", scope["method"], scope["path"],
                            str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__)
                status, code, title, detail, extra = problem_for(exc)
                await problem_response(status, code, title, detail, scope["path"],
                                       **extra)(scope, receive, send)
                return


# Starlette's own refusals (no route, wrong method, a dependency's HTTPException)
_HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 413: "content_too_large"}


def install(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg")),
                   "type": str(e.get("type"))} for e in exc.errors()]
        return problem_response(422, "validation_error", "The request is invalid",
                                "; ".join(f"{'.'.join(e['loc'])}: {e['msg']}" for e in errors),
                                str(request.url.path), errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = dict(exc.headers or {})
        if isinstance(exc, ProblemHTTPException):
            return problem_response(exc.status_code, exc.code, str(exc.detail),
                                    exc.problem_detail, str(request.url.path), headers=headers,
                                    **exc.extra)
        code = _HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}")
        title, detail = str(exc.detail), None
        if exc.status_code == 405:
            # RFC 9110: a 405 names the methods the resource has
            headers["Allow"] = ", ".join(allowed_methods(request.app, request.scope))
            title, detail = "Method not allowed", f"this resource allows {headers['Allow']}"
        return problem_response(exc.status_code, code, title, detail, str(request.url.path),
                                headers=headers)

    async def _any(request: Request, exc: Exception) -> JSONResponse:
        status, code, title, detail, extra = problem_for(exc)
        if status >= 500:
            log.error("request %s %s failed", request.method, request.url.path, exc_info=exc)
        return problem_response(status, code, title, detail, str(request.url.path), **extra)

    # ScfError and Problem are answered by the exception middleware; the catch-all below also
    # logs, and Starlette re-raises it after answering (so test clients see real bugs).
    app.add_exception_handler(ScfError, _any)  # type: ignore[arg-type]
    app.add_exception_handler(Problem, _any)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _any)  # type: ignore[arg-type]
    # outside the routes' exception handlers, so a read can be retried whole
    app.add_middleware(StoreOutageMiddleware)
