"""Participants who hold their own keys: `POST /prepare<route>` for every write route that signs
as the caller, and `POST /custody/submit` for the signed transaction (scf_chain.platform.custody).

A prepare runs the route itself (same body, same checks and risk gates) up to the caller's first
transaction and answers it unsigned. A submit runs the route again, as the route, under an
Idempotency-Key of its own (`custody-<request id>`), with the signed transaction standing in for
the gateway's signature: the answer, events, journal and recovery are the route's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.types import Message

from api.deps import PlatformDep, WriterDep
from api.problems import Problem, problem_for, problem_response, route_leaves
from api.schemas import In
from scf_chain.platform import custody
from scf_chain.platform.custody import EXTERNAL, Signing

router = APIRouter(prefix="/custody", tags=["custody"])
PREPARE = "/prepare"  # `POST /prepare/offers/7/accept` prepares `POST /offers/7/accept`

# The write routes whose effect signs as the caller: each gets `/prepare<path>`. Every other
# POST route is in NOT_SIGNING (a test checks that each POST route is in exactly one).
SIGNING_ROUTES = (
    "/evidence/batches",
    "/receivables", "/receivables/{slot}/confirm", "/receivables/{slot}/reject",
    "/receivables/{slot}/withdraw",
    "/tokens/{token_id}/split", "/tokens/{token_id}/merge", "/tokens/{token_id}/transfer",
    "/tokens/{token_id}/split-many", "/tokens/batch/redeem",
    "/offers", "/offers/{offer_id}/accept", "/offers/{offer_id}/cancel",
    "/receivables/{slot}/repayments", "/receivables/{slot}/collection",
    "/receivables/{slot}/redeem",
)
# the operator's routes (always custodial), and writes that sign nothing
NOT_SIGNING = (
    "/participants", "/participants/{name}/roles", "/participants/{name}/api-keys",
    "/participants/{name}/rotate-key", "/participants/{name}/credit-limit", "/policy",
    "/evidence/documents", "/evidence/documents/{doc_id}/disclosures", "/evidence/verify",
    "/dev/time-travel", "/dev/fund", "/risk/alerts/{alert_id}/{action}", "/risk/policy",
    "/custody/submit",
)


class TransactionOut(BaseModel):
    """The unsigned transaction, field for field as it must be signed (integers as decimal
    strings; `gas_price` for a legacy type-0 transaction, the two fee caps for type 2)."""

    type: int
    chain_id: str
    from_: str = Field(alias="from")
    to: str
    data: str
    value: str
    nonce: str
    gas: str
    gas_price: str | None = None
    max_fee_per_gas: str | None = None
    max_priority_fee_per_gas: str | None = None


class PreparedOut(BaseModel):
    """A transaction prepared for the caller to sign, then to POST to /custody/submit."""

    prepared_id: str
    request_id: str = Field(description="the request this step belongs to (its Idempotency-Key "
                                        "is custody-<request_id>)")
    step: int = Field(description="0 for the request's first transaction of the caller's")
    participant: str
    route: str = Field(description="the route the submit runs")
    transaction: TransactionOut
    call: dict[str, Any] = Field(description="the call decoded by the contract's ABI")
    summary: dict[str, str] = Field(description="what signing it does, in `en` and `zh-CN`")
    expires_at: int = Field(description="unix time; submit before it (SCF_CUSTODY_PREPARED_TTL_S)")
    submit: str
    submitted: list[str] | None = Field(
        None, description="on a 202 from /custody/submit: the request's transactions sent so far")


class SubmitIn(In):
    prepared_id: str = Field(pattern=r"^ptx-[0-9a-f]{24}$")
    signed_transaction: str = Field(pattern=r"^0x[0-9a-fA-F]+$", max_length=262_144,
                                    description="the signed raw transaction, 0x-hex")


@dataclass
class CustodyMode:
    """How `api.deps.Idempotent.run` runs a route's effect for a participant that signs itself."""

    ctx: Signing

    @property
    def preparing(self) -> bool:
        return self.ctx.preparing

    def prepare(self, effect: Callable[[], Any]) -> JSONResponse:
        try:
            return JSONResponse(custody.prepare(self.ctx, effect))
        except Exception as exc:
            status, code, title, detail, extra = problem_for(exc)
            if status >= 500:
                raise
            return problem_response(status, code, title, detail, **extra)

    def wrap(self, effect: Callable[[], Any]) -> Callable[[], Any]:
        def signed_effect() -> Any:
            with custody.signing(self.ctx):
                return effect()
        return signed_effect


async def preparing(request: Request, platform: PlatformDep, caller: WriterDep) -> None:
    """Route dependency of every `/prepare<route>`: run the route in preparing mode."""
    if caller.participant.custody != EXTERNAL:
        raise Problem(409, "not_external", "The gateway signs for this participant",
                      f"{caller.name}'s key is held by the gateway: send the request to the "
                      "route itself")
    await run_in_threadpool(custody.purge, platform)
    path = request.url.path.removeprefix(PREPARE)
    request.state.custody = CustodyMode(Signing(platform, caller.participant, path,
                                                await request.body(), custody.new_request_id()))


@router.post("/submit", response_model=None, status_code=200, responses={
    200: {"description": "the route's own answer (as the custodial route answers it)"},
    202: {"model": PreparedOut,
          "description": "sent; the request needs the caller's next signature: sign this "
                         "transaction and submit it"}})
async def submit(body: SubmitIn, request: Request, platform: PlatformDep,
                 caller: WriterDep) -> Response:
    """Submit a prepared transaction, signed. Checked (signed by the caller, exactly the prepared
    fields, not expired), then the route runs as it would for a custodial participant, sending
    this transaction where it would have signed one, and answers as the route does. Submitting
    the same signed transaction again replays that answer (idempotent by transaction hash)."""
    sub = await run_in_threadpool(custody.submission, platform, caller.participant,
                                  body.prepared_id, body.signed_transaction)
    ctx = Signing(platform, caller.participant, sub.step.path, sub.step.body.encode(),
                  sub.step.request_id, signed=sub.signed)
    return await _dispatch(request, sub.step.path, sub.step.body.encode(),
                           sub.idempotency_key, CustodyMode(ctx))


async def _dispatch(request: Request, path: str, body: bytes, key: str,
                    mode: CustodyMode) -> Response:
    """Run `POST path` with `body` through the app's routes as the caller (its credentials, the
    given Idempotency-Key, `mode` in the request state) and return its answer."""
    keep = {b"authorization", b"x-api-key"}
    headers = [(k, v) for k, v in request.scope["headers"] if k in keep]
    headers += [(b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()), (b"idempotency-key", key.encode())]
    scope = {k: v for k, v in request.scope.items()
             if k not in ("route", "endpoint", "path_params", "router")}
    scope.update(method="POST", path=path, raw_path=path.encode(), query_string=b"",
                 headers=headers, state={**request.scope.get("state", {}), "custody": mode})
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    start: dict[str, Any] = {}
    chunks: list[bytes] = []

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            start.update(message)
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await request.app.router(scope, receive, send)
    answer = Response(b"".join(chunks), status_code=int(start.get("status", 500)))
    answer.raw_headers = [(k, v) for k, v in start.get("headers", [])]
    return answer


def install(app: FastAPI) -> None:
    """Add `/prepare<path>` for every route in SIGNING_ROUTES, then the submit route."""
    for route in list(route_leaves(app.routes)):
        if not (route.path in SIGNING_ROUTES and "POST" in (route.methods or ())):
            continue
        app.add_api_route(
            PREPARE + route.path, route.endpoint, methods=["POST"],
            dependencies=[Depends(preparing)], response_model=PreparedOut, status_code=200,
            tags=[*route.tags, "custody"], name=f"{route.name}_prepare",
            summary=f"Prepare: {route.summary or route.name.replace('_', ' ')}",
            description=f"For a participant that signs itself (custody: external): the "
                        f"transaction `POST {route.path}` would sign, unsigned, with a summary. "
                        "The same body and checks as the route; nothing is signed or sent "
                        "(the Idempotency-Key is not needed). Sign it and POST it to "
                        "/custody/submit.")
    app.include_router(router)
