"""Repeated stratified k-fold cross-validation of the whole scorecard fit (no leakage).

Each fold fits everything on its training rows only (binning, feature selection, regression,
points, calibration) and scores its test rows with the production scorer.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

import numpy as np
from sklearn.metrics import brier_score_loss, roc_auc_score
from sklearn.model_selection import RepeatedStratifiedKFold

from scf_chain.errors import RiskDataError
from scf_chain.risk.data import TrainingSet
from scf_chain.risk.scoring import Scorer
from scf_chain.risk.train import ScorecardSettings, fit_scorecard, ks_statistic


@dataclass(frozen=True)
class FoldResult:
    repeat: int
    fold: int
    auc: float
    ks: float
    gini: float
    brier: float  # of the calibrated PD
    test_rows: int
    features: int  # features the fold's card kept


@dataclass(frozen=True)
class Spread:
    mean: float
    std: float  # population standard deviation over the folds
    min: float
    max: float

    def __str__(self) -> str:
        return f"{self.mean:.4f} ± {self.std:.4f} (min {self.min:.4f}, max {self.max:.4f})"


@dataclass(frozen=True)
class CrossValidation:
    folds: int
    repeats: int
    rows: int
    bad: int
    settings: ScorecardSettings
    results: list[FoldResult]
    # the first repeat's out-of-fold predictions (each row once): score, PD, bad flag
    oof_score: np.ndarray = field(repr=False)
    oof_pd: np.ndarray = field(repr=False)
    oof_bad: np.ndarray = field(repr=False)

    def spread(self, metric: str) -> Spread:
        values = [float(getattr(r, metric)) for r in self.results]
        return Spread(statistics.fmean(values), statistics.pstdev(values), min(values), max(values))

    def summary(self) -> str:
        lines = [f"{self.repeats} × {self.folds}-fold stratified cross-validation, {self.rows} rows "
                 f"({self.bad} bad); every fold fits binning, selection, regression and "
                 "calibration on its training rows only"]
        for metric in ("auc", "ks", "gini", "brier"):
            lines.append(f"  {metric.upper():<5} {self.spread(metric)}")
        return "\n".join(lines)


def cross_validate(ts: TrainingSet, settings: ScorecardSettings | None = None, *,
                   folds: int = 5, repeats: int = 5, seed: int = 0) -> CrossValidation:
    """AUC, KS, Gini and Brier of the scorecard method over `repeats` × `folds` folds."""
    s = settings or ScorecardSettings()
    if folds < 2 or repeats < 1:
        raise RiskDataError("cross-validation needs at least 2 folds and 1 repeat")
    if min(int(ts.bad.sum()), len(ts.bad) - int(ts.bad.sum())) < folds:
        raise RiskDataError(f"too few goods or bads for {folds} folds")
    n = len(ts.bad)
    oof_score = np.zeros(n)
    oof_pd = np.zeros(n)
    results: list[FoldResult] = []
    splitter = RepeatedStratifiedKFold(n_splits=folds, n_repeats=repeats, random_state=seed)
    for k, (train_rows, test_rows) in enumerate(splitter.split(np.zeros(n), ts.bad)):
        model = fit_scorecard(ts.subset(train_rows), s, model_version=f"cv-{k}")
        scorer = Scorer(model, reasons=0)
        test = ts.subset(test_rows)
        scored = scorer.score_many(test.features.to_dict("records"))
        score = np.array([x.score for x in scored], dtype=np.float64)
        pd = np.array([x.pd for x in scored])
        auc = float(roc_auc_score(test.bad, -score))
        results.append(FoldResult(repeat=k // folds, fold=k % folds, auc=auc,
                                  ks=ks_statistic(test.bad, -score), gini=2 * auc - 1,
                                  brier=float(brier_score_loss(test.bad, pd)),
                                  test_rows=len(test_rows), features=len(model.features)))
        if k < folds:
            oof_score[test_rows] = score
            oof_pd[test_rows] = pd
    return CrossValidation(folds, repeats, n, int(ts.bad.sum()), s, results,
                           oof_score, oof_pd, ts.bad.copy())
