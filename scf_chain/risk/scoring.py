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
MAX_CACHED_CATEGORIES = 4096
MAX_CACHED_SCORES = 100_000  # reasons kept per categorical feature (one per value's text)


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
    """One feature's bin table, laid out for lookups, with its reason texts made at load.

    Attributes are indexed as bins 0..n-1, then UNSEEN (-2) and MISSING (-1) at the end of the
    per-attribute lists, so one list index serves all three."""

    __slots__ = ("feature", "name", "numeric", "splits", "points", "index", "missing_points",
                 "unseen_points", "best", "best_text", "texts", "missing_text", "unseen_text",
                 "all_points", "all_texts", "lost", "en_head", "zh_head", "en_tail", "zh_tail",
                 "missing_reason", "category_reasons")

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
        # per attribute (bins, then UNSEEN, then MISSING): points, points lost, and the reason
        # text around the row's value
        self.all_points = [*self.points, self.unseen_points, self.missing_points]
        self.all_texts = [*self.texts, self.unseen_text, self.missing_text]
        self.lost = [self.best - p for p in self.all_points]
        best_en, best_zh = self.best_text
        f = feature
        self.en_head = f"{f.label_en}: " if self.numeric else f"{f.label_en}: '"
        self.zh_head = f"{f.label_zh}：" if self.numeric else f"{f.label_zh}：“"
        if self.numeric:
            self.en_tail = [f" ({en}), {loss} points below the best ({best_en})"
                            for (en, _), loss in zip(self.all_texts, self.lost, strict=True)]
            self.zh_tail = [f"（{zh}），比最佳（{best_zh}）少 {loss} 分"
                            for (_, zh), loss in zip(self.all_texts, self.lost, strict=True)]
        else:
            self.en_tail = [f"', {loss} points below the best ({best_en})" for loss in self.lost]
            self.zh_tail = [f"”，比最佳（{best_zh}）少 {loss} 分" for loss in self.lost]
        loss = self.lost[MISSING]
        self.missing_reason = Reason(
            f.name, f.label_en, f.label_zh, None, self.missing_text[0], self.missing_text[1],
            self.missing_points, loss,
            f"{f.label_en}: missing, {loss} points below the best ({best_en})",
            f"{f.label_zh}：缺失，比最佳（{best_zh}）少 {loss} 分")
        # a categorical value's reason depends on its text only: made once per value seen
        self.category_reasons: dict[str, Reason] = {}

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
        return self.all_points[attribute]

    def text_of(self, attribute: int) -> tuple[str, str]:
        return self.all_texts[attribute]

    def reason(self, attribute: int, value: object) -> Reason:
        """The reason code of the row's attribute (`value` as the row gave it)."""
        if attribute == MISSING:
            return self.missing_reason
        if self.numeric:
            return self._reason(attribute, format_number(float(value)))  # type: ignore[arg-type]
        shown = str(value)
        r = self.category_reasons.get(shown)
        if r is None:
            r = self._reason(attribute, shown)
            if len(self.category_reasons) < MAX_CACHED_CATEGORIES:
                self.category_reasons[shown] = r
        return r

    def _reason(self, attribute: int, shown: str) -> Reason:
        f = self.feature
        attr_en, attr_zh = self.all_texts[attribute]
        return Reason(f.name, f.label_en, f.label_zh, shown, attr_en, attr_zh,
                      self.all_points[attribute], self.lost[attribute],
                      self.en_head + shown + self.en_tail[attribute],
                      self.zh_head + shown + self.zh_tail[attribute])


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
        self._pd_cache: dict[int, tuple[float, str]] = {}

    def total(self, row: Mapping[str, object]) -> int:
        return self.table.total(row)

    def score(self, row: Mapping[str, object]) -> Score:
        """Score, PD, grade and reasons of one row (feature name -> value; absent = missing)."""
        table = self.table
        if not table.inputs.issuperset(row):
            table.check_names(row)
        features = table.features
        total = table.base_points
        points: dict[str, int] = {}
        lost: list[tuple[int, int, int]] = []  # (-points lost, feature position, attribute)
        get = row.get
        for i, c in enumerate(features):
            v = get(c.name)
            t = type(v)
            # the common cases inline; `attribute` decides everything else the same way
            if c.numeric and (t is float or t is int) and v == v:
                a = bisect_right(c.splits, float(v))  # type: ignore[arg-type]
            elif not c.numeric and t is str and v:
                a = c.index.get(v, UNSEEN)  # type: ignore[call-overload]
            else:
                a = c.attribute(v)
            p = c.all_points[a]
            total += p
            points[c.name] = p
            if p < c.best:
                lost.append((p - c.best, i, a))
        if lost:
            lost.sort()
        reasons = tuple(features[i].reason(a, get(features[i].name))
                        for _, i, a in lost[:self.n_reasons])
        pd, grade = self._pd_grade(total)
        return Score(total, pd, grade, points, reasons, self.model.model_version)

    def _pd_grade(self, total: int) -> tuple[float, str]:
        """The PD and grade of a score (kept per score: a model's scores take few values)."""
        known = self._pd_cache.get(total)
        if known is None:
            pd = self.model.calibration.pd(total)
            known = (pd, self.model.grade_of(pd))
            if len(self._pd_cache) < MAX_CACHED_SCORES:
                self._pd_cache[total] = known
        return known

    def score_many(self, rows: Iterable[Mapping[str, object]]) -> list[Score]:
        return [self.score(r) for r in rows]
