"""Train the trade scorecards shipped in the package: scf_chain/risk/models/trade_scorecards.json.

Usage: .venv/bin/python scripts/train_risk_model.py [--receivables 3200] [--seed 2026]
       [--workers 32] [--out scf_chain/risk/models/trade_scorecards.json] [--frames DIR]
       [--from-frames DIR] [--from-market reports/bench_risk_market.json]
Runs the two-round simulated market of `scf_chain.risk.trade.shipped_market` on a throw-away
anvil node, through the platform's Python layer; takes every participant's features from the
store at the end of round 1; labels debtors by round 2's defaults and lateness and suppliers by
round 2's injected fraud; fits the debtor and supplier scorecards and writes them as one file.
The market plan is fixed by the seed; block times follow the wall clock, so a rerun gives the
same market and nearly the same model (bins on day counts can move by a little).
Same as `SCF_CHAIN_BACKEND=anvil scf risk train --simulate --out FILE`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import pandas as pd  # noqa: E402

from scf_chain.config import Settings  # noqa: E402
from scf_chain.platform.core import Platform  # noqa: E402
from scf_chain.risk.features import DEBTOR_FEATURES, SUPPLIER_FEATURES  # noqa: E402
from scf_chain.risk.model import ModelBundle, default_model_path  # noqa: E402
from scf_chain.risk.simulate import Outcome, SimConfig  # noqa: E402
from scf_chain.risk.trade import (  # noqa: E402
    debtor_labels,
    describe_training,
    fit_trade_scorecards,
    frame,
    shipped_market,
    simulate_and_train,
    supplier_labels,
)


def _from_market(run: dict[str, Any], name: str) -> ModelBundle:
    """The scorecards of a saved benchmark market: the same frames `simulate_and_train` makes."""
    cfg = SimConfig(**{**run["cfg"], "health": tuple(run["cfg"]["health"])})
    outcomes = [Outcome(**o) for o in run["outcomes"]]
    debtors = frame(run["taken"], debtor_labels(outcomes, 1), DEBTOR_FEATURES)
    suppliers = frame(run["taken"], supplier_labels(outcomes, 1), SUPPLIER_FEATURES)
    training = describe_training(
        cfg, run["result"]["receivables"], debtors, suppliers,
        f"python scripts/train_risk_model.py --from-market reports/{name}")
    return fit_trade_scorecards(debtors, suppliers, version=f"trade-sim-s{cfg.seed}",
                                training=training)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--receivables", type=int, default=3_200)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--workers", type=int, default=32)
    ap.add_argument("--out", type=Path, default=default_model_path())
    ap.add_argument("--frames", type=Path, default=None,
                    help="also write the labelled training tables (CSV) to this folder")
    ap.add_argument("--from-frames", type=Path, default=None,
                    help="fit from the tables (and training.json) a run wrote with --frames, "
                         "without simulating again")
    ap.add_argument("--from-market", type=Path, default=None,
                    help="fit from a market scripts/bench_risk.py saved (bench_risk_market.json: "
                         "its features after round 1 and outcomes of round 2)")
    args = ap.parse_args()
    t0 = time.perf_counter()
    if args.from_market is not None:
        bundle = _from_market(json.loads(args.from_market.read_text(encoding="utf-8")),
                              args.from_market.name)
    elif args.from_frames is not None:
        training = json.loads((args.from_frames / "training.json").read_text(encoding="utf-8"))
        bundle = fit_trade_scorecards(pd.read_csv(args.from_frames / "debtors.csv"),
                                      pd.read_csv(args.from_frames / "suppliers.csv"),
                                      version=f"trade-sim-s{training['seed']}",
                                      training=training)
    else:
        platform = Platform.open(Settings(chain_backend="anvil"))
        try:
            trained = simulate_and_train(platform, shipped_market(args.seed, args.receivables,
                                                                  args.workers))
        finally:
            platform.close()
        # how to make it again: this run's market, not the defaults
        bundle = trained.bundle.model_copy(update={"training": {
            **trained.bundle.training,
            "regenerate": f"python scripts/train_risk_model.py --receivables {args.receivables} "
                          f"--seed {args.seed} --workers {args.workers}"}})
        if args.frames is not None:
            args.frames.mkdir(parents=True, exist_ok=True)
            trained.debtors.to_csv(args.frames / "debtors.csv", index=False)
            trained.suppliers.to_csv(args.frames / "suppliers.csv", index=False)
            (args.frames / "training.json").write_text(json.dumps(bundle.training, indent=2),
                                                       encoding="utf-8")
        print(f"{trained.result.receivables} receivables, {trained.result.transactions} "
              "transactions")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(bundle.to_json(), encoding="utf-8")
    print(f"wrote {args.out} in {time.perf_counter() - t0:.0f} s")
    for kind, m in bundle.scorecards.items():
        t = m.training_data
        print(f"{kind}: {t.rows} rows ({t.bad} bad), features {[f.name for f in m.features]}; "
              f"out-of-fold AUC {m.metrics.auc_out_of_fold:.4f}, KS {m.metrics.ks_out_of_fold:.4f}, "
              f"in-sample AUC {m.metrics.auc_in_sample:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
