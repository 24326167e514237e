"""A lifecycle scenario on the dev chain (splits, merge, financing, cancelled offers, partial repayment, redemption) and store dumps."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from scf_chain.db.models import READ_MODELS, IndexerCursor, RawEvent
from tests.contracts.harness import System

DAY = 86_400
FACE = 1_000_000


@dataclass
class Facts:
    """What the scenario did, for the tests to compare against."""

    slot: int
    root: int
    t_b: int
    t_c: int
    t_c2: int
    escrow_financed: int
    escrow_cancelled: int
    offer_financed: int
    maturity: int
    financed_at: int
    slot2: int
    slot3_rejected: int


def run_scenario(s: System, *, finish: bool = True) -> Facts:
    a, b, c = s.holders
    now = s.chain.now()
    maturity = now + 90 * DAY
    slot = s.apply_and_confirm(a, FACE, maturity, "INV-1")
    root = s.first_token_of(slot)
    t_b = s.split(a, root, b, 300_000)
    t_c = s.split(a, root, c, 200_000)
    t_c2 = s.split(b, t_b, c, 100_000)
    oid, escrow = s.offer(a, root, 250_000, 245_000, now + 30 * DAY)
    s.accept(oid)
    financed_at = s.chain.now()
    oid2, escrow2 = s.offer(c, t_c2, 100_000, 99_000, now + 30 * DAY)
    assert escrow2 == t_c2  # the whole token went into escrow
    assert s.cancel(c, oid2) == t_c2
    oid3, escrow3 = s.offer(b, t_b, 50_000, 49_000, now + 30 * DAY)
    assert s.cancel(b, oid3) == t_b  # merged back, escrow3 burned
    s.merge(c, t_c2, t_c, 100_000)
    s.repay(slot, 400_000)
    slot2 = s.apply_and_confirm(b, 50_000, now + 60 * DAY, "INV-2")
    s.split(b, s.first_token_of(slot2), c, 20_000)
    slot3 = s.apply_only(c, 70_000, now + 60 * DAY, "INV-3")
    s.debtor_sender.transact(s.token.functions.reject(slot3, b"\x01" * 32))
    if finish:
        s.chain.time_travel(91 * DAY)
        assert s.redeem(root) == 100_000  # 250k x 400k / 1M
        assert s.redeem(escrow) == 100_000
        s.repay(slot, 600_000)
        s.redeem_batch([root, escrow, t_c, t_c2])  # t_b (B's) is left unredeemed
    return Facts(slot, root, t_b, t_c, t_c2, escrow, escrow3, oid, maturity, financed_at, slot2,
                 slot3)


def dump(sessions: sessionmaker[Session], raw: bool = True) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the read models (and raw events and cursor), ids left out, sorted.

    Stored block hashes are left out: which blocks end a batch depends on the chunk size.
    """
    out: dict[str, list[tuple[Any, ...]]] = {}
    models: list[Any] = list(READ_MODELS)
    if raw:
        models += [RawEvent, IndexerCursor]
    with sessions() as s:
        for model in models:
            cols = [c for c in model.__table__.columns if c.name != "id"]
            rows = s.execute(select(*cols)).all()
            out[model.__tablename__] = sorted(tuple(repr(v) for v in r) for r in rows)
    return out
