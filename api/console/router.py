"""The console's routes: the page, its scripts and styles, and the one read the JSON API lacks.

The page is a shell rendered in the caller's language; its script signs in with an API key kept
in the tab's sessionStorage and calls the gateway's own JSON routes with it, so what the console
shows and may do is exactly what the API authorizes for that key (docs/visibility.md).
"""

from __future__ import annotations

import json
from decimal import Decimal
from fractions import Fraction
from importlib import resources
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import BaseModel, Field
from sqlalchemy import select

from api.console.i18n import LANGUAGES, catalogue, negotiate
from api.deps import CallerDep, FreshDep
from api.problems import Problem
from api.routes.audit import rate_ceiling
from api.routes.common import OfferPath, SlotPath, uint
from api.routes.evidence import out as document_out
from api.routes.receivables import load_visible
from api.schemas import DocumentOut
from scf_chain.audit.trace import implied_annual_rate
from scf_chain.db.models import EvidenceDocument, Offer, Receivable
from scf_chain.errors import EvidenceRequestError, NotFound
from scf_chain.evidence.models import Invoice, LogisticsEvent, PurchaseOrder
from scf_chain.platform import evidence as ev

HERE = Path(str(resources.files("api.console")))
STATIC = HERE / "static"
ECHARTS = STATIC / "vendor" / "echarts.min.js"
ECHARTS_MISSING = ("the console's chart library is not installed: run `bash scripts/setup.sh` "
                   "(it copies node_modules/echarts/dist/echarts.min.js, pinned in "
                   "package.json, to api/console/static/vendor/)")
LANG_COOKIE = "scf_console_lang"

router = APIRouter(prefix="/console", include_in_schema=False)
templates = Environment(loader=FileSystemLoader(HERE / "templates"),
                        autoescape=select_autoescape(["html"]))


def install(app: FastAPI) -> None:
    """Serve the console at /console (its routes first, then its static files)."""
    app.include_router(router)
    app.mount("/console/static", StaticFiles(directory=STATIC), name="console-static")


@router.get("", response_class=HTMLResponse)
def page(request: Request,
         lang: Annotated[str | None, Query(max_length=8)] = None) -> Response:
    """The console's one page, every label in the chosen language."""
    chosen = negotiate(lang, request.cookies.get(LANG_COOKIE),
                       request.headers.get("accept-language"))
    messages = catalogue(chosen)
    html = templates.get_template("console.html").render(
        lang=chosen, t=messages, languages=LANGUAGES,
        messages_json=json.dumps(messages, ensure_ascii=False),
        echarts_ready=ECHARTS.is_file())
    resp = HTMLResponse(html, headers={"Cache-Control": "no-store"})
    if lang in LANGUAGES:
        resp.set_cookie(LANG_COOKIE, chosen, max_age=365 * 86_400, samesite="strict",
                        httponly=True)
    return resp


@router.get("/static/vendor/echarts.min.js")
def echarts() -> Response:
    """The pinned ECharts build, or a clear refusal when set-up has not copied it."""
    if not ECHARTS.is_file():
        raise Problem(503, "console_assets_missing", "Console assets missing", ECHARTS_MISSING)
    return FileResponse(ECHARTS, media_type="text/javascript",
                        headers={"Cache-Control": "public, max-age=86400"})


@router.get("/api/receivables/{slot}/documents", response_model=list[DocumentOut])
def receivable_documents(slot: SlotPath, platform: FreshDep,
                         caller: CallerDep) -> list[DocumentOut]:
    """The evidence of a receivable the caller may read: its invoice (the document the contract
    holds by key), and the purchase order and delivery events of that invoice's order in the same
    anchored batch. Each document is shown only to those who may read it (a party, an auditor)."""
    r = load_visible(platform, caller, uint(slot))
    with platform.sessions() as s:
        rows = s.scalars(select(EvidenceDocument).where(
            EvidenceDocument.batch_root == r.evidence_root)
            .order_by(EvidenceDocument.created_at, EvidenceDocument.doc_id)).all()
    readable = []
    for row in rows:
        try:
            _, salted = ev.document(platform, caller.participant, row.doc_id,
                                    caller.reads_everything)
        except EvidenceRequestError:
            continue  # not a party to it: as if it did not exist
        readable.append((row, salted.document))
    order_number = next((d.order_number for row, d in readable
                         if isinstance(d, Invoice) and row.doc_key == r.invoice_key), None)

    def belongs(row: EvidenceDocument, d: object) -> bool:
        if isinstance(d, Invoice):
            return row.doc_key == r.invoice_key
        if isinstance(d, PurchaseOrder):
            return d.number == order_number
        if isinstance(d, LogisticsEvent):
            return d.order_number == order_number
        return False

    return [document_out(row) for row, d in readable if belongs(row, d)]


class OfferTermsOut(BaseModel):
    """What a financier needs to price an offer before it holds any part of the receivable."""

    offer_id: str
    slot: str
    maturity: int
    now: int = Field(description="the chain's time the rate is computed at")
    days_to_maturity: str = Field(description="exact, as a fraction")
    implied_annual_rate: str | None = Field(
        description="(value − price) / price × 365 / days to maturity, exact; null when the "
                    "price or the remaining term is zero")
    implied_annual_rate_decimal: str | None
    above_ceiling: bool | None = Field(description="above the flagging ceiling (SCF_RISK_RATE_CEILING)")


@router.get("/api/offers/{offer_id}/terms", response_model=OfferTermsOut)
def offer_terms(offer_id: OfferPath, platform: FreshDep, caller: CallerDep) -> OfferTermsOut:
    """An offer's maturity and implied annual rate, for the parties to the offer (its holder and
    its financier) and auditors: the same rule as GET /offers/{id}, which answers 404 to anyone
    else. The financier is not yet a party to the receivable, so it cannot read the maturity
    there (docs/visibility.md)."""
    with platform.sessions() as s:
        o = s.get(Offer, uint(offer_id))
        r = s.get(Receivable, o.slot) if o is not None else None
    if o is None or r is None or not (
            caller.reads_everything or caller.address.lower() in (o.holder, o.financier)):
        raise NotFound(f"no offer {offer_id} visible to {caller.name}")
    now = platform.chain.now()
    days = Fraction(r.maturity - now, 86_400)
    rate = implied_annual_rate(o.value, o.price, days)
    return OfferTermsOut(
        offer_id=str(o.offer_id), slot=str(o.slot), maturity=r.maturity, now=now,
        days_to_maturity=f"{days.numerator}/{days.denominator}",
        implied_annual_rate=None if rate is None else f"{rate.numerator}/{rate.denominator}",
        implied_annual_rate_decimal=None if rate is None else str(
            (Decimal(rate.numerator) / Decimal(rate.denominator)).quantize(Decimal("1e-8"))),
        above_ceiling=None if rate is None else rate > rate_ceiling(platform))
