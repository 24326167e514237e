"""Risk control (风控): participants' and receivables' features and scores, fraud alerts and their resolution, capital-flow metrics."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import and_, or_, select

from api.deps import Caller, CallerDep, FreshDep, Idempotent, PlatformDep
from api.problems import Problem
from api.routes.common import Limit, Offset, SlotPath, uint
from api.schemas import In, Page
from scf_chain.clients import Role
from scf_chain.db.models import Offer, Receivable
from scf_chain.errors import NotFound, RiskModelError
from scf_chain.platform.core import Platform
from scf_chain.platform.idempotency import fingerprint
from scf_chain.platform.operations import visible_slot
from scf_chain.risk import gates
from scf_chain.risk.alerts import STATUSES, Action
from scf_chain.risk.detectors import DETECTORS
from scf_chain.risk.service import RiskService, alert_dict, service_for

router = APIRouter(prefix="/risk", tags=["risk"])
ZERO = "0x" + "0" * 40
# integer features and metrics that are money (decimal strings, as every amount the API gives)
_MONEY_SUFFIXES = ("_face", "_value", "_amount", "credit_limit", "_paid", "face_value")


def _money(d: dict[str, Any]) -> dict[str, Any]:
    return {k: str(v) if isinstance(v, int) and not isinstance(v, bool)
            and k.endswith(_MONEY_SUFFIXES) else v for k, v in d.items()}


def _service(platform: Platform, detect: bool = False) -> RiskService:
    """The platform's risk service with the evidence pass done (and the detectors run, for the
    alerts: the other answers do not depend on them)."""
    svc = service_for(platform)
    svc.refresh(detect=detect)
    return svc


def _scored(fn: Any) -> Any:
    try:
        return fn()
    except RiskModelError as exc:
        raise Problem(503, "risk_model_unavailable", "The risk model cannot be used",
                      f"{exc} (SCF_RISK_MODEL_FILE)") from None


def _offered_to(platform: Platform, caller: Caller) -> tuple[set[str], set[int]]:
    """Holders that offered to this financier (or to any financier, while open), and the
    receivables of those offers."""
    me = caller.address.lower()
    with platform.sessions() as s:
        rows = s.execute(select(Offer.holder, Offer.slot).where(or_(
            Offer.financier == me, Offer.accepted_by == me,
            and_(Offer.financier == ZERO, Offer.status == "open")))).tuples().all()
    return {h for h, _ in rows}, {slot for _, slot in rows}


def _financier_sees(platform: Platform, caller: Caller, address: str) -> bool:
    if not caller.has(Role.FINANCIER):
        return False
    holders, slots = _offered_to(platform, caller)
    if address in holders:
        return True
    with platform.sessions() as s:
        return s.scalars(select(Receivable.slot).where(
            Receivable.slot.in_(list(slots)), Receivable.debtor == address).limit(1)).first() \
            is not None if slots else False


@router.get("/participants/{name}")
def participant(name: str, platform: FreshDep, caller: CallerDep) -> dict[str, Any]:
    """A participant's features as debtor and as supplier/holder, its trade per debtor, and its
    score, grade, PD and reasons when a model is configured (`score: null` and why otherwise).

    Auditors and the operator see everyone; a participant itself; a financier the holders
    offering to it and the debtors of those receivables. Anyone else: 404, as for no one."""
    try:
        address = platform.resolve(name).lower()
    except NotFound:
        raise NotFound(f"no participant {name!r} visible to {caller.name}") from None
    if not (caller.reads_everything or address == caller.address.lower()
            or _financier_sees(platform, caller, address)):
        raise NotFound(f"no participant {name!r} visible to {caller.name}")
    out = _scored(lambda: _service(platform).participant(address))
    out["features"] = _money(out["features"])
    out["trade"] = [_money(t) for t in out["trade"]]
    return out


@router.get("/receivables/{slot}")
def receivable(slot: SlotPath, platform: FreshDep, caller: CallerDep) -> dict[str, Any]:
    """A receivable's features (tenor, age, repayment, financing, split shape, evidence
    completeness and consistency) and its debtor's health and score. Visible to its parties, to
    a financier it was offered to, to auditors and the operator; 404 to anyone else."""
    n = uint(slot)
    seen = caller.reads_everything or visible_slot(platform, caller.address, n)
    if not seen and caller.has(Role.FINANCIER):
        seen = n in _offered_to(platform, caller)[1]
    if not seen:
        raise NotFound(f"no receivable {slot} visible to {caller.name}")
    out = _scored(lambda: _service(platform).receivable(n))
    if out is None:
        raise NotFound(f"no receivable {slot} visible to {caller.name}")
    out["slot"] = str(out["slot"])
    out["features"] = _money(out["features"])
    out["debtor_health"]["features"] = _money(out["debtor_health"]["features"])
    return out  # type: ignore[no-any-return]


class AlertStep(BaseModel):
    """One step of an alert's lifecycle."""

    model_config = ConfigDict(populate_by_name=True)

    from_: str | None = Field(alias="from", description="the status before (null: raised)")
    to: str
    by: str = Field(description="a participant's name, or detector:<name>")
    at: int = Field(description="unix time")
    reason: str | None


class AlertOut(BaseModel):
    """A detector's finding and where it stands (docs/risk.md)."""

    id: int
    detector: str
    status: Literal["open", "acknowledged", "dismissed", "confirmed"]
    severity: str
    slot: str | None = Field(description="the receivable it is about, if one")
    parties: list[str] = Field(description="addresses it is about (lowercase)")
    summary: str
    details: dict[str, Any]
    raised_at: int
    updated_at: int
    updated_by: str | None
    reason: str | None
    history: list[AlertStep]


def _supervisor(caller: Caller) -> None:
    if not caller.reads_everything:
        raise Problem(403, "forbidden", "Not allowed",
                      "risk alerts are for auditors and the operator")


@router.get("/alerts", response_model=Page[AlertOut])
def alerts(
    platform: FreshDep, caller: CallerDep, limit: Limit = 50, offset: Offset = 0,
    status: Annotated[Literal["open", "acknowledged", "dismissed", "confirmed"] | None,
                      Query()] = None,
    detector: Annotated[str | None, Query(max_length=32)] = None,
    participant: Annotated[str | None, Query(max_length=64,
                                             description="a participant name or address")] = None,
    slot: Annotated[str | None, Query(pattern=r"^[0-9]{1,78}$")] = None,
) -> Page[AlertOut]:
    """Alerts raised by the detectors, newest first (auditors and the operator)."""
    _supervisor(caller)
    assert status is None or status in STATUSES
    if detector is not None and detector not in DETECTORS and detector not in gates.GATES:
        raise Problem(422, "unknown_detector", "Unknown detector",
                      f"detectors: {', '.join(DETECTORS)}; gates: {', '.join(gates.GATES)}")
    who = None
    if participant is not None:
        try:
            who = platform.resolve(participant)
        except NotFound:
            raise Problem(422, "unknown_participant", "Unknown participant",
                          f"{participant!r} is neither a participant name nor an address") from None
    items, total = _service(platform, detect=True).alerts(status=status, detector=detector, participant=who,
                                             slot=None if slot is None else uint(slot),
                                             limit=limit, offset=offset)
    return Page[AlertOut](items=[AlertOut.model_validate(alert_dict(a)) for a in items],
                          total=total, limit=limit, offset=offset)


class ResolveIn(In):
    reason: str = Field(min_length=1, max_length=1000, description="why (kept in the history)")


async def _supervising(
    request: Request, platform: PlatformDep, caller: CallerDep,
    idempotency_key: Annotated[str | None, Header(
        description="Unique per intended effect; a retry with the same key and body gets the "
                    "first response and causes no second effect.")] = None,
) -> Idempotent:
    """Like api.deps.idempotency, for auditors too: resolving an alert is supervision, not a
    transaction (an auditor's key writes nothing else)."""
    _supervisor(caller)
    if not idempotency_key:
        raise Problem(400, "idempotency_key_missing", "Idempotency-Key header required",
                      "every POST needs an Idempotency-Key header (e.g. a UUID)")
    body = await request.body()
    return Idempotent(platform, caller, idempotency_key,
                      fingerprint(request.method, request.url.path, body))


AlertPath = Annotated[str, Path(pattern=r"^[0-9]{1,18}$", description="alert id")]


@router.post("/alerts/{alert_id}/{action}", response_model=AlertOut)
def resolve(alert_id: AlertPath, action: Literal["acknowledge", "dismiss", "confirm"],
            body: ResolveIn, idem: Annotated[Idempotent, Depends(_supervising)]) -> JSONResponse:
    """Acknowledge, dismiss or confirm an alert, with the reason; kept in its history. A
    dismissed or confirmed alert is resolved for good (409 `alert_transition_invalid`)."""
    platform = idem.platform
    act: Action = action

    def effect() -> dict[str, Any]:
        a = service_for(platform).act(int(alert_id), act, idem.caller.name, body.reason)
        return alert_dict(a)

    return idem.run(effect)


@router.get("/metrics")
def metrics(platform: FreshDep, caller: CallerDep) -> dict[str, Any]:
    """Capital-flow efficiency: per supplier days from delivery to cash and annualized financing
    cost, per debtor days payable and on-time share, platform totals. A participant sees the
    platform totals and its own rows; auditors and the operator every row."""
    m = _service(platform).metrics()
    me = caller.address.lower()
    keep = (lambda a: True) if caller.reads_everything else (lambda a: a == me)  # noqa: E731
    return {
        "platform": _money(vars(m.platform)),
        "suppliers": [_money(vars(x)) for x in m.suppliers if keep(x.address)],
        "debtors": [vars(x) for x in m.debtors if keep(x.address)],
    }


# -- gates -------------------------------------------------------------------------------------------

def gate(check: Callable[..., None], *args: Any) -> None:
    """Run a risk gate (scf_chain.risk.gates) inside a POST's effect, before its transaction: a
    block is answered `risk_gate_blocked` (stored and replayed like any answer of the key)."""
    _scored(lambda: check(*args))  # an unreadable model: 503 risk_model_unavailable


class PolicyVersionOut(BaseModel):
    version: int = Field(description="0: the defaults, before any change")
    changed_by: str
    changed_at: int = Field(description="unix time")
    reason: str | None
    policy: gates.RiskPolicy


class PolicyOut(PolicyVersionOut):
    rate_ceiling_in_force: float = Field(description="max_annual_rate, or SCF_RISK_RATE_CEILING")
    notes: dict[str, str] = Field(description="gates that are on but cannot judge, and why")
    history: list[PolicyVersionOut] = Field(description="every version, newest first")


class PolicyIn(In):
    """The gates to change (absent: unchanged), and why."""

    rate_ceiling: gates.Mode | None = None
    debtor_exposure: gates.Mode | None = None
    evidence_consistency: gates.Mode | None = None
    min_grade: gates.Mode | None = None
    max_annual_rate: float | None = Field(None, gt=0, le=100,
                                          description="null: back to SCF_RISK_RATE_CEILING")
    exposure_near_share: float | None = Field(None, gt=0, le=1)
    min_grade_value: str | None = Field(None, min_length=1, max_length=16)
    reason: str | None = Field(None, max_length=1000, description="kept in the history")


def _version_out(v: gates.PolicyVersion) -> PolicyVersionOut:
    return PolicyVersionOut(version=v.version, changed_by=v.changed_by, changed_at=v.changed_at,
                            reason=v.reason, policy=v.policy)


def _policy_out(platform: Platform) -> PolicyOut:
    versions = gates.history(platform)
    v = versions[0]
    return PolicyOut(**_version_out(v).model_dump(exclude={"policy"}), policy=v.policy,
                     rate_ceiling_in_force=gates.rate_ceiling_of(platform, v.policy),
                     notes=_scored(lambda: gates.notes(platform, v.policy)),
                     history=[_version_out(x) for x in versions])


@router.get("/policy", response_model=PolicyOut)
def policy(platform: PlatformDep, caller: CallerDep) -> PolicyOut:
    """The risk gates in force, what they cannot judge, and every change (auditors, operator)."""
    _supervisor(caller)
    return _policy_out(platform)


@router.post("/policy", response_model=PolicyOut)
def set_policy(body: PolicyIn, idem: Annotated[Idempotent, Depends(_supervising)]) -> JSONResponse:
    """Change gates (operator only): a new version, the old ones kept with who and when."""
    idem.caller.require(Role.OPERATOR)
    platform = idem.platform
    changes = body.model_dump(exclude_unset=True, exclude={"reason"})

    def effect() -> PolicyOut:
        _scored(lambda: gates.change(platform, changes, idem.caller.name, body.reason))
        return _policy_out(platform)

    return idem.run(effect)
