"""GET /healthz (the process answers) and GET /readyz (chain reachable, store migrated, indexer caught up)."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text

from api.deps import PlatformDep
from api.problems import PROBLEM_JSON, TYPE_BASE
from scf_chain.platform.core import Platform

router = APIRouter(tags=["meta"])


class Alive(BaseModel):
    status: Literal["alive"] = "alive"


class Check(BaseModel):
    ok: bool
    detail: str


class Readiness(BaseModel):
    ready: bool
    chain: Check
    store: Check
    indexer: Check


@router.get("/healthz")
def healthz() -> Alive:
    """Liveness: the process answers HTTP (no chain or store call, so a slow node never gets a
    healthy process restarted). No API key."""
    return Alive()


@lru_cache(maxsize=1)
def _migration_heads() -> frozenset[str]:
    from alembic.script import ScriptDirectory

    from scf_chain.db import alembic_config

    return frozenset(ScriptDirectory.from_config(alembic_config()).get_heads())


def readiness(platform: Platform) -> Readiness:
    """Each check on its own, so a failing one does not hide the others."""
    head: int | None = None
    try:
        head = platform.chain.block_number()
        chain = Check(ok=True, detail=f"head {head}, chain id {platform.chain.chain_id()}")
    except Exception as exc:  # any failure to answer is "not reachable"
        chain = Check(ok=False, detail=f"node unreachable ({type(exc).__name__})")
    try:
        with platform.sessions() as s:
            revisions = set(s.scalars(text("SELECT version_num FROM alembic_version")).all())
        missing = _migration_heads() - revisions
        store = Check(ok=not missing, detail=(
            f"migrated to {', '.join(sorted(revisions))}" if not missing else
            f"at {', '.join(sorted(revisions)) or 'no revision'}, not {', '.join(sorted(missing))}: "
            "run `scf db upgrade`"))
    except Exception as exc:
        store = Check(ok=False, detail=f"store unavailable ({type(exc).__name__})")
    indexer = indexer_check(platform, head)
    ok = chain.ok and store.ok and indexer.ok
    return Readiness(ready=ok, chain=chain, store=store, indexer=indexer)


def indexer_lag(platform: Platform, head: int) -> int | None:
    """Blocks the indexer is behind the newest block it may ingest (head − confirmations); None
    when the store cannot be read."""
    try:
        cursor = platform.indexer.cursor()
    except Exception:
        return None
    done = cursor[0] if cursor is not None else platform.manifest.start_block - 1
    return max(0, head - platform.settings.confirmations - done)


def indexer_check(platform: Platform, head: int | None) -> Check:
    if head is None:
        return Check(ok=False, detail="unknown: the node does not answer")
    lag = indexer_lag(platform, head)
    if lag is None:
        return Check(ok=False, detail="unknown: the store does not answer")
    limit = platform.settings.ready_max_indexer_lag
    return Check(ok=lag <= limit, detail=f"{lag} blocks behind (at most {limit}: "
                                         "SCF_READY_MAX_INDEXER_LAG)")


@router.get("/readyz", response_model=Readiness)
def readyz(platform: PlatformDep) -> Readiness | JSONResponse:
    """Readiness: the node answers, the store is at the code's migration head, and the indexer
    is at most SCF_READY_MAX_INDEXER_LAG blocks behind. 503 (a problem document `not_ready`
    with every check) otherwise. No API key."""
    r = readiness(platform)
    if r.ready:
        return r
    return JSONResponse({"type": TYPE_BASE + "not_ready", "title": "Not ready", "status": 503,
                         "code": "not_ready", **r.model_dump()}, status_code=503,
                        media_type=PROBLEM_JSON)
