"""Scoring with a loaded model: bin lookups and sums (no training, no numeric libraries).

A score is `base_points + Σ points of each feature's attribute`; the PD is the model's
calibration of that score, the grade its band of PD. Reason codes are the features where the
row lost the most points against the feature's best attribute, in English and Chinese.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from scf_chain.errors import RiskDataError
from scf_chain.risk.model import Bin, Feature, ScorecardModel

MISSING = -1  # attribute index of a missing value
UNSEEN = -2  # attribute index of a category no training row had


@dataclass(frozen=True)
class Reason:
    """An adverse factor: the feature, the row's attribute, and the points it cost."""

    code: str  # the feature's name: stable across model versions
    label_en: str
    label_zh: str
    value: str | None  # the row's value as given (None if missing)
    attribute_en: str
    attribute_zh: str
    points: int
    points_lost: int  # best attribute's points minus the row's
    text_en: str
    text_zh: str


@dataclass(frozen=True)
class Score:
    score: int
    pd: float
    grade: str
    points: dict[str, int]  # per feature
    reasons: tuple[Reason, ...]
    model_version: str


def format_number(x: float) -> str:
    return format(x, ",.10g")


def attribute_text(feature: Feature, b: Bin | None) -> tuple[str, str]:
    """(English, Chinese) words for an attribute; None is a missing value."""
    if b is None:
        return "missing", "缺失"
    if b is feature.unseen:
        return "a value not seen in training", "训练中未出现的取值"
    if feature.kind == "categorical":
        cats = b.categories or []
        return " or ".join(f"'{c}'" for c in cats), "、".join(f"“{c}”" for c in cats)
    if b.lower is None and b.upper is None:
        return "any value", "任意取值"
    if b.lower is None:
        assert b.upper is not None
        return f"under {format_number(b.upper)}", f"低于 {format_number(b.upper)}"
    if b.upper is None:
        return f"{format_number(b.lower)} or more", f"{format_number(b.lower)} 及以上"
    return (f"{format_number(b.lower)} to under {format_number(b.upper)}",
            f"{format_number(b.lower)} 至不足 {format_number(b.upper)}")


class _Compiled:
    """One feature's bin table, laid out for lookups."""

    __slots__ = ("feature", "name", "numeric", "splits", "points", "index", "missing_points",
                 "unseen_points", "best", "best_text", "texts", "missing_text", "unseen_text")

    def __init__(self, feature: Feature) -> None:
        self.feature = feature
        self.name = feature.name
        self.numeric = feature.kind == "numeric"
        self.splits = feature.splits
        self.points = [b.points for b in feature.bins]
        self.index = {c: i for i, b in enumerate(feature.bins) for c in (b.categories or [])}
        self.missing_points = feature.missing.points
        self.unseen_points = feature.unseen.points if feature.unseen is not None else 0
        self.best = feature.best_points
        self.best_text = attribute_text(feature, next(b for b in feature.bins if b.points == self.best))
        self.texts = [attribute_text(feature, b) for b in feature.bins]
        self.missing_text = attribute_text(feature, None)
        self.unseen_text = attribute_text(feature, feature.unseen)

    def attribute(self, value: object) -> int:
        """The index of the value's bin, or MISSING / UNSEEN."""
        if value is None or value == "":
            return MISSING
        if self.numeric:
            if isinstance(value, bool):
                raise RiskDataError(f"feature {self.name!r} is numeric; got a boolean")
            if isinstance(value, (int, float)):
                x = float(value)
            elif isinstance(value, str):
                try:
                    x = float(value)
                except ValueError:
                    raise RiskDataError(f"feature {self.name!r} is numeric; got {value!r}") from None
            else:
                try:
                    x = float(value)  # type: ignore[arg-type]  # numpy scalars and the like
                except (TypeError, ValueError):
                    raise RiskDataError(f"feature {self.name!r} is numeric; got "
                                        f"{type(value).__name__} {value!r}") from None
            if math.isnan(x):
                return MISSING
            return bisect_right(self.splits, x)
        if isinstance(value, float) and math.isnan(value):
            return MISSING
        return self.index.get(value if isinstance(value, str) else str(value), UNSEEN)

    def points_of(self, attribute: int) -> int:
        if attribute >= 0:
            return self.points[attribute]
        return self.missing_points if attribute == MISSING else self.unseen_points

    def text_of(self, attribute: int) -> tuple[str, str]:
        if attribute >= 0:
            return self.texts[attribute]
        return self.missing_text if attribute == MISSING else self.unseen_text


class PointsTable:
    """The additive part of a scorecard: base points and each feature's attribute points."""

    def __init__(self, features: Iterable[Feature], base_points: int, inputs: Iterable[str],
                 *, name: str = "model") -> None:
        self.features = [_Compiled(f) for f in features]
        self.base_points = base_points
        self.inputs = frozenset(inputs)
        self.name = name

    def check_names(self, row: Mapping[str, object]) -> None:
        unknown = row.keys() - self.inputs
        if unknown:
            raise RiskDataError(f"unknown feature(s) {sorted(unknown)} for {self.name}; "
                                f"it knows {sorted(self.inputs)}")

    def total(self, row: Mapping[str, object]) -> int:
        """The score alone: base points plus each feature's attribute points."""
        self.check_names(row)
        total = self.base_points
        for c in self.features:
            total += c.points_of(c.attribute(row.get(c.name)))
        return total


class Scorer:
    """Scores rows of features with one model; build once, call many times."""

    def __init__(self, model: ScorecardModel, *, reasons: int = 4) -> None:
        if reasons < 0:
            raise ValueError("reasons must be >= 0")
        self.model = model
        self.n_reasons = reasons
        self.table = PointsTable(model.features, model.base_points, model.inputs,
                                 name=f"model {model.model_version}")

    def total(self, row: Mapping[str, object]) -> int:
        return self.table.total(row)

    def score(self, row: Mapping[str, object]) -> Score:
        """Score, PD, grade and reasons of one row (feature name -> value; absent = missing)."""
        self.table.check_names(row)
        features = self.table.features
        total = self.table.base_points
        points: dict[str, int] = {}
        lost: list[tuple[int, int, int]] = []  # (-points lost, feature position, attribute)
        for i, c in enumerate(features):
            a = c.attribute(row.get(c.name))
            p = c.points_of(a)
            total += p
            points[c.name] = p
            if p < c.best:
                lost.append((p - c.best, i, a))
        lost.sort()
        reasons = tuple(self._reason(features[i], a, row.get(features[i].name))
                        for _, i, a in lost[:self.n_reasons])
        pd = self.model.calibration.pd(total)
        return Score(total, pd, self.model.grade_of(pd), points, reasons, self.model.model_version)

    def score_many(self, rows: Iterable[Mapping[str, object]]) -> list[Score]:
        return [self.score(r) for r in rows]

    def _reason(self, c: _Compiled, attribute: int, value: object) -> Reason:
        f = c.feature
        attr_en, attr_zh = c.text_of(attribute)
        best_en, best_zh = c.best_text
        p = c.points_of(attribute)
        loss = c.best - p
        shown: str | None = None if attribute == MISSING else (
            format_number(float(value)) if c.numeric else str(value))  # type: ignore[arg-type]
        if shown is None:
            en = f"{f.label_en}: missing, {loss} points below the best ({best_en})"
            zh = f"{f.label_zh}：缺失，比最佳（{best_zh}）少 {loss} 分"
        elif c.numeric:
            en = f"{f.label_en}: {shown} ({attr_en}), {loss} points below the best ({best_en})"
            zh = f"{f.label_zh}：{shown}（{attr_zh}），比最佳（{best_zh}）少 {loss} 分"
        else:
            en = f"{f.label_en}: '{shown}', {loss} points below the best ({best_en})"
            zh = f"{f.label_zh}：“{shown}”，比最佳（{best_zh}）少 {loss} 分"
        return Reason(f.name, f.label_en, f.label_zh, shown, attr_en, attr_zh, p, loss, en, zh)
