"""The scorecard model file: a readable JSON bin table (no pickle), written and read byte-identically."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from scf_chain.errors import RiskModelError

MODEL_FORMAT = "scf-risk-scorecard/1"

FeatureKind = Literal["numeric", "categorical"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Bin(_Frozen):
    """One attribute of a feature: a numeric interval [lower, upper) or a set of categories.

    `woe` is ln(share of goods / share of bads) in the training data (positive: safer than
    average); `points` is the attribute's contribution to the score.
    """

    lower: float | None = None  # numeric: inclusive lower bound; None is -infinity
    upper: float | None = None  # numeric: exclusive upper bound; None is +infinity
    categories: list[str] | None = None  # categorical: the values this attribute groups
    count: int
    bad: int
    woe: float
    points: int


class Feature(_Frozen):
    """A feature of the scorecard with its bins, coefficient and labels."""

    name: str
    kind: FeatureKind
    label_en: str
    label_zh: str
    iv: float  # information value of the binning on the training data
    coefficient: float  # logistic-regression weight on the feature's WoE (negative: WoE lowers PD)
    bins: list[Bin]
    missing: Bin  # a missing value (WoE of the training rows that missed it, else 0: neutral)
    unseen: Bin | None = None  # categorical: a value no training row had (WoE 0: neutral)

    @model_validator(mode="after")
    def _check_bins(self) -> Feature:
        if not self.bins:
            raise ValueError(f"feature {self.name!r} has no bins")
        if self.kind == "numeric":
            uppers = [b.upper for b in self.bins]
            if self.bins[0].lower is not None or uppers[-1] is not None:
                raise ValueError(f"feature {self.name!r}: numeric bins must cover the real line")
            for prev, nxt in zip(self.bins, self.bins[1:], strict=False):
                if prev.upper is None or prev.upper != nxt.lower:
                    raise ValueError(f"feature {self.name!r}: numeric bins must be contiguous")
        else:
            seen: set[str] = set()
            for b in self.bins:
                if not b.categories:
                    raise ValueError(f"feature {self.name!r}: a categorical bin has no categories")
                if seen & set(b.categories):
                    raise ValueError(f"feature {self.name!r}: a category is in two bins")
                seen |= set(b.categories)
            if self.unseen is None:
                raise ValueError(f"feature {self.name!r}: categorical features need an unseen bin")
        return self

    @property
    def splits(self) -> list[float]:
        """Numeric: the bins' inner boundaries, ascending."""
        return [b.upper for b in self.bins[:-1] if b.upper is not None]

    @property
    def best_points(self) -> int:
        """The most points any attribute of the feature gives (the reference for reason codes)."""
        return max(b.points for b in self.bins)


class Scaling(_Frozen):
    """Points scaling: `base_points` at odds good:bad of `base_odds`, odds double every `pdo`."""

    base_points: float = 600.0
    base_odds: float = 50.0
    pdo: float = 20.0

    @property
    def factor(self) -> float:
        return self.pdo / math.log(2.0)

    @property
    def offset(self) -> float:
        return self.base_points - self.factor * math.log(self.base_odds)


class Calibration(_Frozen):
    """Platt scaling of the score, fitted on out-of-fold scores: PD = 1 / (1 + exp(-(a + b·score)))."""

    method: Literal["platt"] = "platt"
    a: float
    b: float  # negative: more points, lower PD
    folds: int  # out-of-fold scores came from this many folds of the training data

    def pd(self, score: float) -> float:
        z = self.a + self.b * score
        # the two forms avoid overflow of exp at either end
        if z >= 0:
            return 1.0 / (1.0 + math.exp(-z))
        e = math.exp(z)
        return e / (1.0 + e)


class Grade(_Frozen):
    """A grade applies to a PD below `max_pd` (and at or above the previous grade's bound)."""

    grade: str
    max_pd: float  # exclusive; the last grade has 1.0 and takes every PD left


class TrainingData(_Frozen):
    sha256: str  # of the canonical CSV of the training columns (features + target), see data.py
    rows: int
    bad: int
    target: str
    bad_value: str  # the target value that marks a bad (event = default)


class Metrics(_Frozen):
    """Measured at training time: in sample, and out of fold (the calibration folds)."""

    auc_in_sample: float
    auc_out_of_fold: float
    ks_out_of_fold: float
    brier_out_of_fold: float  # of the calibrated PD on the out-of-fold scores


class Dropped(_Frozen):
    name: str
    reason: str


class ScorecardModel(_Frozen):
    """Everything scoring needs, and nothing it has to learn: scoring is arithmetic over this."""

    format: str = MODEL_FORMAT
    model_version: str
    created_at: str  # ISO 8601, UTC
    training_data: TrainingData
    settings: dict[str, float | int | str | None]
    inputs: dict[str, FeatureKind]  # every column seen at training (used or dropped)
    features: list[Feature]
    dropped: list[Dropped] = Field(default_factory=list)
    scaling: Scaling
    intercept: float
    base_points: int  # the score before any attribute: round(offset - factor * intercept)
    calibration: Calibration
    grades: list[Grade]
    metrics: Metrics

    @model_validator(mode="after")
    def _check(self) -> ScorecardModel:
        if self.format != MODEL_FORMAT:
            raise ValueError(f"unsupported model format {self.format!r} (expected {MODEL_FORMAT!r})")
        if not self.features:
            raise ValueError("the model has no features")
        names = [f.name for f in self.features]
        if len(set(names)) != len(names):
            raise ValueError("a feature appears twice")
        for f in self.features:
            if self.inputs.get(f.name) != f.kind:
                raise ValueError(f"feature {f.name!r} is not among the inputs with kind {f.kind}")
        bounds = [g.max_pd for g in self.grades]
        if not bounds or bounds != sorted(bounds) or len(set(bounds)) != len(bounds) or bounds[-1] != 1.0:
            raise ValueError("grade bounds must rise strictly and end at 1.0")
        if not self.calibration.b < 0:
            raise ValueError("the calibration must lower PD as the score rises (b < 0)")
        return self

    def grade_of(self, pd: float) -> str:
        for g in self.grades:
            if pd < g.max_pd:
                return g.grade
        return self.grades[-1].grade

    def to_json(self) -> str:
        """The file's text: sorted keys, two-space indent, UTF-8 labels kept readable."""
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, indent=2,
                          ensure_ascii=False, allow_nan=False) + "\n"

    @classmethod
    def from_json(cls, text: str) -> ScorecardModel:
        try:
            return cls.model_validate_json(text)
        except ValidationError as exc:
            raise RiskModelError(f"not a valid scorecard model: {exc}") from exc


def save_model(model: ScorecardModel, path: str | Path) -> None:
    Path(path).write_text(model.to_json(), encoding="utf-8")


def load_model(path: str | Path) -> ScorecardModel:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise RiskModelError(f"cannot read model file {path}: {exc}") from exc
    return ScorecardModel.from_json(text)


BUNDLE_FORMAT = "scf-risk-models/1"
SCORECARD_KINDS = ("debtor", "supplier")


class ModelBundle(_Frozen):
    """Scorecards for the kinds of participant, trained together: `debtor` (will it pay its
    receivables) and `supplier` (will its receivables be sound), with how their data was made."""

    format: str = BUNDLE_FORMAT
    bundle_version: str
    created_at: str
    description: str
    training: dict[str, str | int | float | list[float] | None]
    scorecards: dict[str, ScorecardModel]

    @model_validator(mode="after")
    def _check(self) -> ModelBundle:
        if self.format != BUNDLE_FORMAT:
            raise ValueError(f"unsupported bundle format {self.format!r} (expected "
                             f"{BUNDLE_FORMAT!r})")
        unknown = set(self.scorecards) - set(SCORECARD_KINDS)
        if unknown or not self.scorecards:
            raise ValueError(f"a bundle holds scorecards for {', '.join(SCORECARD_KINDS)}; got "
                             f"{sorted(self.scorecards)}")
        return self

    def to_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, indent=2,
                          ensure_ascii=False, allow_nan=False) + "\n"


def load_scorecards(path: str | Path) -> dict[str, ScorecardModel]:
    """The scorecards in a model file: a bundle's by kind, or one scorecard under `any` (it
    scores every participant)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise RiskModelError(f"cannot read model file {path}: {exc}") from exc
    try:
        head = json.loads(text)
    except ValueError as exc:
        raise RiskModelError(f"model file {path} is not JSON: {exc}") from exc
    if isinstance(head, dict) and head.get("format") == BUNDLE_FORMAT:
        try:
            return dict(ModelBundle.model_validate_json(text).scorecards)
        except ValidationError as exc:
            raise RiskModelError(f"not a valid scorecard bundle: {exc}") from exc
    return {"any": ScorecardModel.from_json(text)}


def default_model_path() -> Path:
    """The trade scorecards shipped in the package (scripts/train_risk_model.py makes them)."""
    return Path(__file__).with_name("models") / "trade_scorecards.json"
