"""Risk gates: the operator's policy, checked in the gateway before a transaction is sent; a gate is off, flags (an alert) or blocks.

Four gates (docs/risk.md, "Gates"):

- `rate_ceiling` (offer, accept): the offer's implied annual rate above the ceiling (the policy's
  `max_annual_rate`, or the setting SCF_RISK_RATE_CEILING);
- `debtor_exposure` (confirm): the debtor's outstanding face value plus this receivable's above
  its credit limit (`debtor_over_limit`, blocks when set to block), or above
  `exposure_near_share` of it (`debtor_near_limit`, only ever flagged);
- `evidence_consistency` (apply): the invoice, order and delivery do not describe one trade
  (the platform's cross-document check, `scf_chain.evidence.crosscheck`), or the invoices of the
  order add up to more than the order (`order_over_invoiced`);
- `min_grade` (offer): the holder's grade below `min_grade_value`; without a model (or with a
  grade the model does not know) the gate passes and says why in GET /risk/policy.

A gate reads the store and the chain (views only); a block raises `RiskGateBlocked` before
anything is signed, a flag raises an alert named after the gate (deduplicated like the
detectors' alerts: one per gate and request content) and lets the request go on.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from eth_utils import to_checksum_address
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from scf_chain.contracts.encoding import ReceivableState
from scf_chain.db.models import Offer, Receivable, RiskDocument, RiskPolicyVersion, Token
from scf_chain.errors import CrossDocumentMismatch, EvidenceError, PolicyInvalid, RiskGateBlocked
from scf_chain.errors import GateReason as Reason
from scf_chain.evidence.crosscheck import check_trade
from scf_chain.evidence.models import Invoice, LogisticsEvent, PurchaseOrder
from scf_chain.risk.alerts import raise_findings
from scf_chain.risk.detectors import Finding
from scf_chain.risk.features import implied_annual_rate

if TYPE_CHECKING:
    from scf_chain.db.models import GatewayParticipant
    from scf_chain.platform.core import Platform

log = logging.getLogger(__name__)

Mode = Literal["off", "flag", "block"]
GATES = ("rate_ceiling", "debtor_exposure", "evidence_consistency", "min_grade")
SYSTEM = "system"  # who "made" the default policy, before any change


class RiskPolicy(BaseModel):
    """The gates' modes and parameters. Defaults: flag what is cheap to check and usually a real
    signal (rates, exposure, evidence); min_grade off (it needs a model and a chosen grade)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rate_ceiling: Mode = "flag"
    debtor_exposure: Mode = "flag"
    evidence_consistency: Mode = "flag"
    min_grade: Mode = "off"
    max_annual_rate: float | None = Field(
        None, gt=0, le=100, description="ceiling of the implied annual rate (null: the setting "
                                        "SCF_RISK_RATE_CEILING)")
    exposure_near_share: float = Field(
        0.9, gt=0, le=1, description="flag a confirmation that takes the debtor's outstanding "
                                     "above this share of its credit limit")
    min_grade_value: str | None = Field(
        None, min_length=1, max_length=16, description="the worst grade min_grade lets through")


@dataclass(frozen=True)
class PolicyVersion:
    version: int  # 0: the defaults, never changed
    policy: RiskPolicy
    changed_by: str
    changed_at: int
    reason: str | None


# -- the policy ---------------------------------------------------------------------------------------

# (when read, the policy then current), kept on the platform object: every gate of every write
# reads it
_POLICY_ATTR = "_risk_policy"
_policies_lock = threading.Lock()


def current(platform: Platform, fresh: bool = False) -> PolicyVersion:
    """The policy in force. A process remembers it for `policy_cache_s` (SCF_POLICY_CACHE_S):
    a change made here applies at once, one made through another process within that long.
    `fresh`: read the store whatever is remembered."""
    ttl = platform.settings.policy_cache_s
    if ttl > 0 and not fresh:
        with _policies_lock:
            kept: tuple[float, PolicyVersion] | None = getattr(platform, _POLICY_ATTR, None)
        if kept is not None and time.monotonic() - kept[0] < ttl:
            return kept[1]
    read_at = time.monotonic()
    with platform.sessions() as s:
        row = s.scalars(select(RiskPolicyVersion).order_by(RiskPolicyVersion.id.desc())
                        .limit(1)).first()
    version = (PolicyVersion(0, RiskPolicy(), SYSTEM, 0, "defaults") if row is None
               else _version(row))
    _remember(platform, read_at, version)
    return version


def _remember(platform: Platform, read_at: float, version: PolicyVersion) -> None:
    with _policies_lock:
        kept: tuple[float, PolicyVersion] | None = getattr(platform, _POLICY_ATTR, None)
        # never replace a newer version with an older read that finished later
        if kept is None or kept[1].version <= version.version:
            setattr(platform, _POLICY_ATTR, (read_at, version))


def history(platform: Platform) -> list[PolicyVersion]:
    """Every version, newest first (the defaults, version 0, last)."""
    with platform.sessions() as s:
        rows = s.scalars(select(RiskPolicyVersion).order_by(RiskPolicyVersion.id.desc())).all()
    return [_version(r) for r in rows] + [PolicyVersion(0, RiskPolicy(), SYSTEM, 0, "defaults")]


def _version(row: RiskPolicyVersion) -> PolicyVersion:
    return PolicyVersion(row.id, RiskPolicy.model_validate(row.policy), row.changed_by,
                         row.changed_at, row.reason)


def change(platform: Platform, changes: dict[str, Any], by: str, reason: str | None
           ) -> PolicyVersion:
    """Store a new version: the current policy with `changes` applied (a new row; none is ever
    overwritten)."""
    merged = {**current(platform, fresh=True).policy.model_dump(), **changes}
    try:
        policy = RiskPolicy.model_validate(merged)
    except ValueError as exc:
        raise PolicyInvalid(str(exc)) from None
    if policy.min_grade != "off" and policy.min_grade_value is None:
        raise PolicyInvalid("min_grade needs min_grade_value (the worst grade let through)")
    grades = _grades(platform)
    if grades is not None and policy.min_grade_value is not None \
            and policy.min_grade_value not in grades:
        raise PolicyInvalid(f"the model has no grade {policy.min_grade_value!r} "
                            f"(grades: {', '.join(grades)})")
    with platform.sessions() as s, s.begin():
        row = RiskPolicyVersion(policy=policy.model_dump(), changed_by=by,
                                changed_at=int(time.time()), reason=reason)
        s.add(row)
        s.flush()
        version = _version(row)
    _remember(platform, time.monotonic(), version)  # in force here at once
    return version


def rate_ceiling_of(platform: Platform, policy: RiskPolicy) -> float:
    if policy.max_annual_rate is not None:
        return policy.max_annual_rate
    return float(platform.settings.risk_rate_ceiling)


def _grades(platform: Platform) -> list[str] | None:
    """The model's grades, best first, or None without a model."""
    from scf_chain.risk.service import service_for

    scorer = service_for(platform).scorer()
    return None if scorer is None else [g.grade for g in scorer.model.grades]


def notes(platform: Platform, policy: RiskPolicy) -> dict[str, str]:
    """Why a gate that is on cannot judge (it passes)."""
    out = {}
    if policy.min_grade != "off":
        grades = _grades(platform)
        if grades is None:
            out["min_grade"] = ("no model configured (SCF_RISK_MODEL_FILE unset and "
                                "SCF_RISK_DEFAULT_MODEL false): the gate passes")
        elif policy.min_grade_value not in grades:
            out["min_grade"] = (f"the model has no grade {policy.min_grade_value!r}: the gate "
                                "passes")
    return out


# -- deciding ---------------------------------------------------------------------------------------

def _decide(platform: Platform, gate: str, mode: Mode, reasons: list[Reason], key: str,
            parties: list[str], slot: int | None, details: dict[str, Any],
            blocking: list[Reason] | None = None) -> None:
    """Block (raise) on `blocking` reasons (all reasons by default) when the gate blocks;
    otherwise raise one alert for the reasons found."""
    if mode == "off" or not reasons:
        return
    stop = reasons if blocking is None else blocking
    if mode == "block" and stop:
        raise RiskGateBlocked(gate, stop)
    codes = [r.code for r in reasons]
    finding = Finding(detector=gate, key=f"{key}|{','.join(codes)}", severity="medium",
                      summary=f"gate {gate}: " + "; ".join(r.text for r in reasons),
                      parties=tuple(p.lower() for p in parties), slot=slot,
                      details={**details, "gate": gate, "reasons": codes})
    try:
        with platform.sessions() as s, s.begin():
            raise_findings(s, [finding], int(time.time()))
    except IntegrityError:  # the same finding was raised at the same time by another request
        pass


def check_offer(platform: Platform, holder: str, token_id: int, value: int, price: int,
                financier: str) -> None:
    """rate_ceiling and min_grade, before a holder offers part of a token."""
    policy = current(platform).policy
    if policy.rate_ceiling == "off" and policy.min_grade == "off":
        return
    platform.sync()
    with platform.sessions() as s:
        tok = s.get(Token, token_id)
        r = None if tok is None else s.get(Receivable, tok.slot)
    if r is None:
        return  # no such token: the contract answers
    key = f"offer|{holder.lower()}|{token_id}|{value}|{price}|{financier.lower()}"
    _rate_gate(platform, policy, value, price, r, key, [holder, financier])
    if policy.min_grade == "off" or policy.min_grade_value is None:
        return
    from scf_chain.risk.service import service_for

    svc = service_for(platform)
    grades = _grades(platform)
    if grades is None or policy.min_grade_value not in grades:
        log.info("risk gate min_grade passes: %s", notes(platform, policy).get("min_grade"))
        return
    svc.refresh(detect=False)
    scored = svc.participant(holder.lower())
    grade = scored.get("grade")
    if grade in grades and grades.index(grade) > grades.index(policy.min_grade_value):
        reason = Reason("grade_below_minimum", f"the holder's grade {grade} is below "
                                               f"{policy.min_grade_value}")
        _decide(platform, "min_grade", policy.min_grade, [reason], key, [holder], r.slot,
                {"grade": grade, "min_grade": policy.min_grade_value,
                 "score": scored.get("score")})


def check_accept(platform: Platform, offer_id: int) -> None:
    """rate_ceiling, before a financier accepts an offer."""
    policy = current(platform).policy
    if policy.rate_ceiling == "off":
        return
    platform.sync()
    with platform.sessions() as s:
        o = s.get(Offer, offer_id)
        r = None if o is None else s.get(Receivable, o.slot)
    if o is None or r is None:
        return
    _rate_gate(platform, policy, o.value, o.price, r, f"accept|{offer_id}",
               [o.holder, o.financier])


def _rate_gate(platform: Platform, policy: RiskPolicy, value: int, price: int, r: Receivable,
               key: str, parties: list[str]) -> None:
    if policy.rate_ceiling == "off":
        return
    ceiling = rate_ceiling_of(platform, policy)
    rate = implied_annual_rate(value, price, r.maturity - platform.chain.now())
    if rate is None or rate <= ceiling:
        return
    reason = Reason("rate_above_ceiling", f"implied annual rate {rate:.2%} is above the ceiling "
                                          f"{ceiling:.2%}")
    _decide(platform, "rate_ceiling", policy.rate_ceiling, [reason], key, parties, r.slot,
            {"implied_annual_rate": rate, "ceiling": ceiling, "value": str(value),
             "price": str(price)})


def check_confirm(platform: Platform, confirmer: GatewayParticipant, slot: int) -> None:
    """debtor_exposure, before a receivable is confirmed (the contract's own credit-limit check
    would revert the transaction: this stops it before it is sent, and flags a near limit).
    Reads the chain (the application, the debtor's limit and outstanding) rather than the
    index: the state the transaction will meet, without an indexer pass in the request."""
    policy = current(platform).policy
    if policy.debtor_exposure == "off":
        return
    token = platform.token(confirmer)
    r = token.get_receivable(slot)
    if r.status != ReceivableState.PENDING:
        return  # the contract answers
    limit, outstanding = token.credit_limit_of(r.debtor), token.outstanding_of(r.debtor)
    after = outstanding + r.face_value
    details = {"credit_limit": str(limit), "outstanding": str(outstanding),
               "face_value": str(r.face_value)}
    over = after > limit
    if over:
        reason = Reason("debtor_over_limit", f"outstanding {outstanding} + face value "
                                             f"{r.face_value} exceeds the credit limit {limit}")
    elif after > policy.exposure_near_share * limit:
        reason = Reason("debtor_near_limit", f"outstanding {outstanding} + face value "
                        f"{r.face_value} is above {policy.exposure_near_share:.0%} of the "
                        f"credit limit {limit}")
    else:
        return
    _decide(platform, "debtor_exposure", policy.debtor_exposure, [reason], f"confirm|{slot}",
            [r.debtor, r.creditor], slot, details, blocking=[reason] if over else [])


def check_apply(platform: Platform, creditor: GatewayParticipant, debtor: str, face_value: int,
                invoice_id: str, order_id: str, delivery_id: str,
                memo: dict[Any, Any] | None = None) -> None:
    """evidence_consistency, before a creditor applies: the documents as the platform's
    cross-document check sees them, and the order's other invoices (from the risk store).
    Documents the applicant cannot read, or of the wrong kind, are left to the application's own
    checks (not found, invalid).

    The cross-document check is also a rule of the application itself: flagged, such a request
    raises the alert and is then refused by that rule (invalid, with its code); blocked, it is
    refused by the gate. `order_over_invoiced` is the gate's alone: flagged, it goes through.
    `memo` keeps the documents read (`scf_chain.platform.evidence.document`), for the
    application to use without decrypting them again."""
    policy = current(platform).policy
    if policy.evidence_consistency == "off":
        return
    from scf_chain.platform.evidence import documents
    from scf_chain.risk.service import service_for

    svc = service_for(platform)
    read = svc.read_document
    assert read is not None
    try:  # as the applicant: what it may not read, it learns nothing about
        inv, order, delivery = (r[1].document for r in documents(
            platform, creditor, (invoice_id, order_id, delivery_id), False, memo))
    except EvidenceError:  # not found or not readable: the application answers it
        return
    if not (isinstance(inv, Invoice) and isinstance(order, PurchaseOrder)
            and isinstance(delivery, LogisticsEvent)):
        return
    reasons: list[Reason] = []
    try:
        check_trade(inv, order, delivery, face_value, to_checksum_address(debtor),
                    to_checksum_address(creditor.address))
    except CrossDocumentMismatch as exc:
        reasons.append(Reason(exc.code, str(exc)))
    svc.refresh_documents()  # the risk store's document facts, current
    with platform.sessions() as s:
        others = s.scalars(select(RiskDocument.doc_id).where(
            RiskDocument.kind == "invoice", RiskDocument.order_number == inv.order_number,
            RiskDocument.buyer == inv.buyer.lower(), RiskDocument.seller == inv.seller.lower(),
            RiskDocument.doc_id != invoice_id)).all()
    invoiced = inv.amount
    for doc_id in others:
        try:
            other = read(doc_id)
        except Exception:  # noqa: BLE001 - counted on a later request
            continue
        if isinstance(other, Invoice) and other.number != inv.number:
            invoiced += other.amount
    if invoiced > order.amount and inv.amount <= order.amount:
        reasons.append(Reason("order_over_invoiced", f"the invoices of order {order.number} "
                              f"add up to {invoiced}, more than the order's {order.amount}"))
    _decide(platform, "evidence_consistency", policy.evidence_consistency, reasons,
            f"apply|{invoice_id}|{order_id}|{delivery_id}|{face_value}",
            [creditor.address, debtor], None,
            {"invoice_doc_id": invoice_id, "order_doc_id": order_id,
             "delivery_doc_id": delivery_id, "face_value": str(face_value)})
