"""Alerts: detectors' findings stored once each, with a lifecycle (open, acknowledged, dismissed, confirmed) and a history; never deleted."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import func, select, tuple_
from sqlalchemy.orm import Session

from scf_chain.db.models import RiskAlert, RiskAlertEvent, RiskAlertParty
from scf_chain.errors import AlertNotFound, AlertTransitionError
from scf_chain.risk.detectors import Finding

Action = Literal["acknowledge", "dismiss", "confirm"]
STATUSES = ("open", "acknowledged", "dismissed", "confirmed")
_TARGET: dict[str, str] = {"acknowledge": "acknowledged", "dismiss": "dismissed",
                           "confirm": "confirmed"}
# what each status may become: a dismissed or confirmed alert is resolved for good
_ALLOWED: dict[str, frozenset[str]] = {
    "open": frozenset({"acknowledged", "dismissed", "confirmed"}),
    "acknowledged": frozenset({"dismissed", "confirmed"}),
    "dismissed": frozenset(),
    "confirmed": frozenset(),
}


@dataclass(frozen=True)
class AlertView:
    id: int
    detector: str
    status: str
    severity: str
    slot: int | None
    parties: list[str]
    summary: str
    details: dict[str, Any]
    raised_at: int
    updated_at: int
    updated_by: str | None
    reason: str | None
    history: list[dict[str, Any]]


def raise_findings(session: Session, findings: Sequence[Finding], now: int) -> list[int]:
    """Store the findings not stored before (by detector and key); returns the new alerts' ids.
    The caller commits; two passes at once are kept apart by the unique key (one fails)."""
    if not findings:
        return []
    unique = {(f.detector, f.key): f for f in findings}
    known: set[tuple[str, str]] = set()
    keys = sorted(unique)
    for i in range(0, len(keys), 500):
        known.update(session.execute(select(RiskAlert.detector, RiskAlert.finding_key).where(
            tuple_(RiskAlert.detector, RiskAlert.finding_key).in_(keys[i:i + 500]))).tuples())
    new = []
    for k in keys:
        if k in known:
            continue
        f = unique[k]
        a = RiskAlert(detector=f.detector, finding_key=f.key, status="open", severity=f.severity,
                      slot=f.slot, summary=f.summary[:500], details=f.details, raised_at=now,
                      updated_at=now, updated_by=None, reason=None)
        session.add(a)
        session.flush()
        session.add_all(RiskAlertParty(alert_id=a.id, address=p) for p in sorted(set(f.parties)))
        session.add(RiskAlertEvent(alert_id=a.id, from_status=None, to_status="open",
                                   by=f"detector:{f.detector}", at=now, reason=f.summary[:1000]))
        new.append(a.id)
    session.flush()
    return new


def transition(session: Session, alert_id: int, action: Action, by: str, reason: str,
               now: int) -> RiskAlert:
    """Acknowledge, dismiss or confirm an alert, recording who, when and why. The caller commits."""
    a = session.get(RiskAlert, alert_id, with_for_update=True)
    if a is None:
        raise AlertNotFound(alert_id)
    target = _TARGET[action]
    if target not in _ALLOWED[a.status]:
        raise AlertTransitionError(alert_id, a.status, action, target)
    session.add(RiskAlertEvent(alert_id=a.id, from_status=a.status, to_status=target, by=by,
                               at=now, reason=reason))
    a.status, a.updated_at, a.updated_by, a.reason = target, now, by, reason
    session.flush()
    return a


def parties_of(session: Session, alert_ids: Sequence[int]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {i: [] for i in alert_ids}
    for i in range(0, len(alert_ids), 500):
        for aid, addr in session.execute(select(RiskAlertParty.alert_id, RiskAlertParty.address)
                                         .where(RiskAlertParty.alert_id.in_(
                                             list(alert_ids[i:i + 500])))
                                         .order_by(RiskAlertParty.address)).tuples():
            out[aid].append(addr)
    return out


def view(session: Session, a: RiskAlert, parties: list[str] | None = None,
         history: bool = True) -> AlertView:
    events = session.scalars(select(RiskAlertEvent).where(RiskAlertEvent.alert_id == a.id)
                             .order_by(RiskAlertEvent.id)).all() if history else []
    return AlertView(
        a.id, a.detector, a.status, a.severity, a.slot,
        parties if parties is not None else parties_of(session, [a.id])[a.id], a.summary,
        a.details, a.raised_at, a.updated_at, a.updated_by, a.reason,
        [{"from": e.from_status, "to": e.to_status, "by": e.by, "at": e.at, "reason": e.reason}
         for e in events])


def list_alerts(session: Session, *, status: str | None = None, detector: str | None = None,
                participant: str | None = None, slot: int | None = None,
                visible_to: Sequence[str] | None = None, limit: int = 50,
                offset: int = 0) -> tuple[list[AlertView], int]:
    """Alerts newest first, filtered; `visible_to` (addresses) keeps only alerts about them."""
    q = select(RiskAlert)
    if status is not None:
        q = q.where(RiskAlert.status == status)
    if detector is not None:
        q = q.where(RiskAlert.detector == detector)
    if slot is not None:
        q = q.where(RiskAlert.slot == slot)
    if participant is not None:
        q = q.where(RiskAlert.id.in_(select(RiskAlertParty.alert_id).where(
            RiskAlertParty.address == participant.lower())))
    if visible_to is not None:
        q = q.where(RiskAlert.id.in_(select(RiskAlertParty.alert_id).where(
            RiskAlertParty.address.in_([v.lower() for v in visible_to]))))
    total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
    rows = session.scalars(q.order_by(RiskAlert.id.desc()).limit(limit).offset(offset)).all()
    parties = parties_of(session, [a.id for a in rows])
    return [view(session, a, parties[a.id]) for a in rows], int(total)
