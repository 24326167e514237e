"""Audit (穿透式监管): trace a receivable, a participant's flows (CSV/JSON), reconcile store and chain."""

from __future__ import annotations

from fractions import Fraction
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from api.deps import CallerDep, FreshDep, PlatformDep
from api.problems import Problem
from api.routes.common import SlotPath, party, uint
from api.routes.receivables import load_visible, viewer
from scf_chain.audit import participant_flows, reconcile, trace_receivable, trace_seen
from scf_chain.platform import evidence as evidence_ops
from scf_chain.platform.core import Platform

router = APIRouter(prefix="/audit", tags=["audit"])


def rate_ceiling(platform: Platform) -> Fraction:
    """The implied annual financing rate above which a financing is flagged: one setting for the
    trace, the console's offer terms and the risk detector (SCF_RISK_RATE_CEILING)."""
    return Fraction(str(platform.settings.risk_rate_ceiling))


@router.get("/receivables/{slot}/trace")
def trace(slot: SlotPath, platform: FreshDep, caller: CallerDep) -> Any:
    """Lineage from confirmation to every holder, every fund movement with implied financing
    rates, and the evidence's on-chain verification status.

    Auditors and the operator get all of it; the debtor every holding and payout but no
    financing terms; any other party its own branch, payouts and financings (docs/visibility.md).
    """
    load_visible(platform, caller, uint(slot))
    with platform.sessions() as s:
        t = trace_seen(trace_receivable(s, uint(slot), rate_ceiling=rate_ceiling(platform),
                                        verifier=evidence_ops.verifier(platform),
                                        now=platform.chain.now()),
                       viewer(caller))
    # already deterministic JSON: sent as is (a 10,000-token tree costs more to re-encode
    # than to build)
    return Response(t.to_json(), media_type="application/json")


@router.get("/participants/{who}/flows")
def flows(
    who: str, platform: FreshDep, caller: CallerDep,
    format: Annotated[Literal["json", "csv"], Query()] = "json",
    since: Annotated[int | None, Query(ge=0, le=2**40)] = None,
    until: Annotated[int | None, Query(ge=0, le=2**40)] = None,
) -> Any:
    """Money in and out of a participant; as JSON or as a CSV export."""
    address = party(platform, who)
    if not (caller.reads_everything or address.lower() == caller.address.lower()):
        raise Problem(403, "forbidden", "Not allowed", "participants see only their own flows")
    with platform.sessions() as s:
        f = participant_flows(s, address, since, until)
    if format == "csv":
        return Response(f.to_csv(), media_type="text/csv", headers={
            "Content-Disposition": f'attachment; filename="flows-{address}.csv"'})
    return Response(f.to_json(), media_type="application/json")


@router.get("/reconcile")
def reconcile_store(platform: PlatformDep, caller: CallerDep) -> Any:
    """Compare the store's read models with chain state; every difference is listed."""
    if not caller.reads_everything:
        raise Problem(403, "forbidden", "Not allowed", "reconciliation is for auditors")
    platform.sync()
    with platform.sessions() as s:
        report = reconcile(s, platform.chain, platform.manifest)
    return {"block": report.block, "tokens_checked": report.tokens_checked,
            "receivables_checked": report.receivables_checked, "clean": not report.differences,
            "differences": [{"kind": d.kind, "key": d.key, "field": d.field, "db": str(d.db),
                             "chain": str(d.chain)} for d in report.differences]}
