"""A participant's money in and out over a period, exported as CSV or JSON (amounts as integer strings)."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from scf_chain.db.models import FundFlow

FLOW_COLUMNS: tuple[str, ...] = (
    "direction", "block_number", "block_time", "tx_hash", "log_index", "kind", "payer", "payee",
    "token", "amount", "slot", "token_id", "offer_id", "registration_ref",
)


@dataclass(frozen=True)
class FlowRow:
    """One settlement-token movement seen from the participant: direction `in` or `out`."""

    direction: str
    block_number: int
    block_time: int
    tx_hash: str
    log_index: int
    kind: str
    payer: str
    payee: str
    token: str | None
    amount: int
    slot: int | None
    token_id: int | None
    offer_id: int | None
    registration_ref: str | None

    def cells(self) -> list[str]:
        return ["" if getattr(self, c) is None else str(getattr(self, c)) for c in FLOW_COLUMNS]


@dataclass(frozen=True)
class ParticipantFlows:
    """Money in and out of `address` between `since` and `until` (unix seconds, inclusive)."""

    address: str
    since: int | None
    until: int | None
    rows: list[FlowRow]

    @property
    def inflows(self) -> list[FlowRow]:
        return [r for r in self.rows if r.direction == "in"]

    @property
    def outflows(self) -> list[FlowRow]:
        return [r for r in self.rows if r.direction == "out"]

    def total_in(self) -> dict[str, int]:
        """Per settlement token (amounts in different tokens are never added)."""
        return _totals(self.inflows)

    def total_out(self) -> dict[str, int]:
        return _totals(self.outflows)

    def to_csv(self) -> str:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(FLOW_COLUMNS)
        for r in self.rows:
            w.writerow(r.cells())
        return buf.getvalue()

    def to_json(self) -> str:
        doc: dict[str, Any] = {
            "address": self.address, "since": _str(self.since), "until": _str(self.until),
            "total_in": {k: str(v) for k, v in self.total_in().items()},
            "total_out": {k: str(v) for k, v in self.total_out().items()},
            "flows": [{c: _str(getattr(r, c)) for c in FLOW_COLUMNS} for r in self.rows],
        }
        return json.dumps(doc, separators=(",", ":"))


def _str(v: Any) -> str | None:
    return None if v is None else str(v)


def _totals(rows: list[FlowRow]) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in rows:
        key = r.token or ""
        out[key] = out.get(key, 0) + r.amount
    return dict(sorted(out.items()))


def _ts(v: int | datetime | None) -> int | None:
    if v is None:
        return None
    if isinstance(v, datetime):
        if v.tzinfo is None:
            raise ValueError("naive datetime: pass an aware datetime (UTC) or unix seconds")
        return int(v.timestamp())
    return int(v)


def participant_flows(session: Session, address: str, since: int | datetime | None = None,
                      until: int | datetime | None = None) -> ParticipantFlows:
    """Every fund flow paid by or to `address` (block time within [since, until]), in chain order.

    A transfer from an address to itself would appear twice (out and in); the contract never makes one.
    """
    who = address.lower()
    lo, hi = _ts(since), _ts(until)
    q = select(FundFlow).where(or_(FundFlow.payer == who, FundFlow.payee == who))
    if lo is not None:
        q = q.where(FundFlow.block_time >= lo)
    if hi is not None:
        q = q.where(FundFlow.block_time <= hi)
    rows: list[FlowRow] = []
    for f in session.scalars(q.order_by(FundFlow.block_number, FundFlow.log_index)):
        for direction in (("out",) if f.payer == who else ()) + (("in",) if f.payee == who else ()):
            rows.append(FlowRow(direction, f.block_number, f.block_time, f.tx_hash, f.log_index,
                                f.kind, f.payer, f.payee, f.token, f.amount, f.slot, f.token_id,
                                f.offer_id, f.registration_ref))
    return ParticipantFlows(who, lo, hi, rows)
