"""Risk control on the platform: keep evidence features and alerts current, score from features, answer the risk routes and CLI."""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from scf_chain.db.leases import PASS_SPACE, store_lock
from scf_chain.db.models import RawEvent, RiskDocument
from scf_chain.risk.alerts import Action, AlertView, list_alerts, raise_findings, transition, view
from scf_chain.risk.detectors import DetectorParams, run_detectors
from scf_chain.risk.evidence import (
    DocumentReader,
    has_new_documents,
    sync_documents,
    sync_evidence,
)
from scf_chain.risk.features import as_of, participant_features, receivable_features
from scf_chain.risk.metrics import Metrics, capital_flow_metrics

if TYPE_CHECKING:
    from scf_chain.config import Settings
    from scf_chain.platform.core import Platform
    from scf_chain.risk.scoring import Scorer

log = logging.getLogger(__name__)

NO_MODEL = "no model configured"


@dataclass(frozen=True)
class Refresh:
    documents: int
    receivables_checked: int
    detectors_ran: bool
    alerts_raised: int


class RiskService:
    """One per store: refreshes the evidence pass and the detectors when the store changed, and
    reads features, scores, alerts and metrics. The chain-event features need no refresh: the
    indexer folds them as it ingests."""

    def __init__(self, sessions: sessionmaker[Session], read_document: DocumentReader | None,
                 params: DetectorParams, model_file: Path | None = None) -> None:
        self.sessions, self.read_document, self.params = sessions, read_document, params
        self.model_file = model_file
        self._scorers: dict[str, Scorer] | None = None
        self._lock = threading.Lock()
        self._seen: tuple[int, int, int] | None = None

    # -- keeping current ---------------------------------------------------------------------------
    def refresh(self, force: bool = False, detect: bool = True) -> Refresh:
        """Read new documents, check the receivables they concern, and (with `detect`) run the
        detectors if anything changed since their last run (new events, documents, or a later
        block)."""
        # one process at a time on a shared store: two would insert the same documents' facts
        with self._lock, store_lock(self.sessions.kw.get("bind"), PASS_SPACE, "risk-refresh"):
            return self._refresh(force, detect)

    def refresh_documents(self) -> int:
        """Only read the documents submitted since the last pass (what a risk gate needs: the
        facts of every document); the receivables they concern are checked by the next
        `refresh`. Takes the pass's lock only when there is something to read. Returns the
        number of documents read."""
        if self.read_document is None:
            return 0
        with self.sessions() as s:
            if not has_new_documents(s):
                return 0
        with self._lock, store_lock(self.sessions.kw.get("bind"), PASS_SPACE, "risk-refresh"):
            with self.sessions() as s, s.begin():
                return sync_documents(s, self.read_document)

    def _refresh(self, force: bool, detect: bool) -> Refresh:
        docs = checked = raised = 0
        with self.sessions() as s, s.begin():
            if self.read_document is not None:
                p = sync_evidence(s, self.read_document)
                docs, checked = p.documents, p.receivables
            now = as_of(s)
            seen = (int(s.scalar(select(func.max(RawEvent.id))) or 0),
                    int(s.scalar(select(func.count()).select_from(RiskDocument)) or 0), now)
        if not detect or (seen == self._seen and not force):
            return Refresh(docs, checked, False, 0)
        for attempt in range(2):
            try:
                with self.sessions() as s, s.begin():
                    raised = len(raise_findings(s, run_detectors(s, self.params, now), now))
                break
            except IntegrityError:  # another process raised the same finding first: run again
                if attempt:
                    raise
        self._seen = seen
        return Refresh(docs, checked, True, raised)

    # -- scores ----------------------------------------------------------------------------------------
    def scorers(self) -> dict[str, Scorer]:
        """The model file's scorecards by kind (`debtor`, `supplier`, or `any` for a single
        scorecard), loaded once; empty without a model file."""
        if self.model_file is None:
            return {}
        if self._scorers is None:
            from scf_chain.risk.model import load_scorecards
            from scf_chain.risk.scoring import Scorer

            self._scorers = {kind: Scorer(m) for kind, m in
                             load_scorecards(self.model_file).items()}
        return self._scorers

    def scorer(self) -> Scorer | None:
        """A scorecard of the model (for its grades: every scorecard of a bundle has the
        same), or None without a model."""
        return next(iter(self.scorers().values()), None)

    def score(self, values: dict[str, Any], kind: str | None = None) -> dict[str, Any]:
        """Score, grade, PD and reasons from a feature row, or `score: null` and why.

        `kind` picks a bundle's scorecard; by default a participant that has confirmed
        receivables as debtor is scored as a debtor, anyone else as a supplier."""
        scorers = self.scorers()
        if not scorers:
            return {"score": None, "reason": NO_MODEL}
        if "any" in scorers:
            kind = "any"
        elif kind is None:
            kind = "debtor" if values.get("debtor_confirmed_count") else "supplier"
        scorer = scorers.get(kind)
        if scorer is None:
            return {"score": None, "scorecard": kind,
                    "reason": f"the model has no {kind} scorecard"}
        row = {k: values.get(k) for k in scorer.model.inputs}
        s = scorer.score(row)
        return {"score": s.score, "grade": s.grade, "pd": s.pd, "model_version": s.model_version,
                "scorecard": kind,
                "reasons": [{"code": r.code, "text_en": r.text_en, "text_zh": r.text_zh,
                             "points_lost": r.points_lost} for r in s.reasons]}

    # -- reads -----------------------------------------------------------------------------------------
    def participant(self, address: str) -> dict[str, Any]:
        with self.sessions() as s:
            f = participant_features(s, address)
        return {"address": f.address, "as_of": f.as_of, "features": f.values,
                "trade": f.trade, **self.score(f.values)}

    def receivable(self, slot: int) -> dict[str, Any] | None:
        with self.sessions() as s:
            f = receivable_features(s, slot)
            if f is None:
                return None
            debtor = participant_features(s, f.debtor, f.as_of)
        debtor_score = self.score(debtor.values, "debtor")
        return {"slot": f.slot, "debtor": f.debtor, "creditor": f.creditor, "as_of": f.as_of,
                "features": f.values, "evidence": f.evidence,
                "debtor_health": {"features": {k: v for k, v in debtor.values.items()
                                               if k.startswith("debtor_")}, **debtor_score}}

    def alerts(self, **filters: Any) -> tuple[list[AlertView], int]:
        with self.sessions() as s:
            return list_alerts(s, **filters)

    def act(self, alert_id: int, action: Action, by: str, reason: str) -> AlertView:
        with self.sessions() as s, s.begin():
            a = transition(s, alert_id, action, by, reason, int(time.time()))
            return view(s, a)

    def metrics(self) -> Metrics:
        with self.sessions() as s:
            return capital_flow_metrics(s, self.params.rate_ceiling)


_services_lock = threading.Lock()


def service_for(platform: Platform) -> RiskService:
    """The platform's risk service (one per platform object), reading documents as the auditor."""
    with _services_lock:
        svc: RiskService | None = getattr(platform, "_risk_service", None)
        if svc is None:
            from scf_chain.evidence.commit import SaltedDocument

            def read(doc_id: str) -> Any:
                raw = platform.documents.get(doc_id, "", is_auditor=True)
                return SaltedDocument.from_json(json.loads(raw)).document

            st = platform.settings
            svc = RiskService(platform.sessions, read,
                              DetectorParams(rate_ceiling=st.risk_rate_ceiling),
                              model_file_of(st))
            setattr(platform, "_risk_service", svc)  # noqa: B010 - lives and dies with the platform
        return svc


def model_file_of(settings: Settings) -> Path | None:
    """SCF_RISK_MODEL_FILE, else the trade scorecards shipped in the package (unless
    SCF_RISK_DEFAULT_MODEL=false: then no scores)."""
    if settings.risk_model_file is not None:
        return settings.risk_model_file
    if not settings.risk_default_model:
        return None
    from scf_chain.risk.model import default_model_path

    return default_model_path()


def alert_dict(a: AlertView) -> dict[str, Any]:
    d = asdict(a)
    d["slot"] = None if a.slot is None else str(a.slot)
    return d
