"""The `scf` command: build contracts, run a local chain, and (added by other modules) deploy, keep, serve."""

from __future__ import annotations

import gc
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import typer

from scf_chain.errors import ConfigError, ScfError
from scf_chain.obs.progress import Progress
from scf_chain.risk.cli import risk_app

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

    from scf_chain.chain.base import ChainBackend
    from scf_chain.config import Settings

app = typer.Typer(help="scf-chain: blockchain-backed receivables for supply chain finance.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
chain_app = typer.Typer(help="Local chains for development.", no_args_is_help=True)
app.add_typer(chain_app, name="chain")
app.add_typer(risk_app, name="risk")


# set by the global --debug (main() then lets tracebacks through) and --verbose
_DEBUG = {"on": False, "verbose": False}


@app.callback()
def _global(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks and library debug logs."),
    verbose: bool = typer.Option(False, "--verbose", help="Show library INFO logs."),
) -> None:
    """scf-chain: blockchain-backed receivables for supply chain finance."""
    import os

    from scf_chain.obs import logs

    _DEBUG["on"], _DEBUG["verbose"] = debug, verbose
    # read apart from Settings: a bad setting is reported by the command that needs it
    fmt = os.environ.get("SCF_LOG_FORMAT", "auto").lower()
    logs.configure(fmt if fmt in ("json", "text") else "auto",  # type: ignore[arg-type]
                   verbose=verbose, debug=debug)


def _fail(exc: Exception) -> None:
    """One `error:` line on stderr and exit code 2 (a traceback too with --debug)."""
    if _DEBUG["on"] and exc.__traceback__ is not None:
        import traceback

        traceback.print_exception(exc, file=sys.stderr)
    typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code=2)


def _setting_name(loc: tuple[Any, ...]) -> str:
    return "SCF_" + "_".join(str(p) for p in loc).upper() if loc else "a setting"


def explain(exc: BaseException) -> str | None:
    """The one line a user needs for a configuration, connection or input mistake (None: a bug,
    whose traceback should show)."""
    import errno

    from pydantic import ValidationError

    if isinstance(exc, ScfError):
        return str(exc)
    if isinstance(exc, ValidationError):
        parts = []
        for e in exc.errors():
            got = f" (got {e['input']!r})" if not isinstance(e.get("input"), dict) else ""
            parts.append(f"{_setting_name(tuple(e['loc']))}: {e['msg']}{got}")
        return "bad setting " + "; ".join(parts)
    try:
        from sqlalchemy import exc as sa_exc
    except ImportError:  # pragma: no cover - a dependency
        sa_exc = None  # type: ignore[assignment]
    if sa_exc is not None:
        if isinstance(exc, sa_exc.ArgumentError):
            return (f"SCF_DATABASE_URL is not a usable database URL ({str(exc).splitlines()[0]}); "
                    "e.g. sqlite:///./var/scf.db or postgresql+psycopg://user@host:5432/scf")
        if isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError)):
            first = str(getattr(exc, "orig", None) or exc).strip().splitlines()
            return (f"cannot reach the store at SCF_DATABASE_URL "
                    f"({first[0] if first else type(exc).__name__})")
    if isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE:
        return f"address already in use: {exc.strerror}"
    try:
        import requests
    except ImportError:  # pragma: no cover
        return None
    if isinstance(exc, (requests.ConnectionError, requests.Timeout)):
        return f"cannot reach the node at SCF_RPC_URL ({type(exc).__name__})"
    return None


@app.command("build-contracts")
def build_contracts(
    check: bool = typer.Option(
        False, "--check", help="Only verify the committed artifacts: an artifact whose recorded "
        "source hashes no longer match is stale at once; otherwise every target is compiled "
        "afresh and compared byte for byte."),
) -> None:
    """Compile contracts/ with the pinned solc and write artifacts into the package."""
    from scf_chain.contracts import build

    try:
        if check:
            build.check()
            typer.echo("artifacts are up to date")
            return
        result = build.build()
    except ScfError as exc:
        _fail(exc)
        return
    for name in result.written:
        typer.echo(f"wrote   {name}")
    for name in result.removed:
        typer.echo(f"removed {name}")
    typer.echo(f"{len(result.written)} written, {len(result.unchanged)} unchanged")


@chain_app.command("up")
def chain_up(
    backend: str = typer.Option("anvil", help="anvil or ganache (nodes other processes reach)."),
    host: str = typer.Option("127.0.0.1"),
    port: Optional[int] = typer.Option(None, help="Default: a free port."),
    hardfork: Optional[str] = typer.Option(
        None, help="The node's fork, e.g. paris (default: anvil cancun, ganache shanghai)."),
    keep_states: Optional[int] = typer.Option(
        None, min=1, help="anvil: keep only this many recent blocks' states, as a pruning node "
                          "does (--prune-history); much less CPU a block under heavy load, but a "
                          "read at an older block is refused. Default: every block's."),
) -> None:
    """Start a local chain, print its RPC URL and dev accounts, run until Ctrl-C."""
    if backend not in ("anvil", "ganache"):
        _fail(ValueError("only `anvil` and `ganache` can be served to other processes; the "
                         "embedded chain lives inside one Python process (use `scf serve`)"))
    if keep_states is not None and backend != "anvil":
        _fail(ValueError("--keep-states is an anvil option"))
    from scf_chain.chain.anvil import AnvilChain
    from scf_chain.chain.ganache import GANACHE_HARDFORK, GanacheChain
    from scf_chain.chain.localnode import LocalNodeChain

    try:
        chain: LocalNodeChain
        if backend == "anvil":
            chain = AnvilChain(host=host, port=port, hardfork=hardfork or "cancun",
                                keep_states=keep_states)
        else:
            chain = GanacheChain(host=host, port=port, hardfork=hardfork or GANACHE_HARDFORK)
    except ScfError as exc:
        _fail(exc)
        return
    import os

    from scf_chain.chain.pidfile import NodeRecord
    from scf_chain.config import Settings

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    record: Path | None = None
    try:
        assert chain.pid is not None
        record = NodeRecord(os.getpid(), chain.pid, chain.port, chain.rpc_url,
                            chain.name).write(Settings().data_dir)
        typer.echo(f"RPC URL: {chain.rpc_url}")
        typer.echo(f"chain id: {chain.chain_id()}")
        for i, acct in enumerate(chain.dev_accounts()[:5]):
            typer.echo(f"account {i}: {acct.address}")
        typer.echo("dev accounts derive from the mnemonic 'test test ... junk'")
        typer.echo(f"pid {os.getpid()} (node pid {chain.pid}), recorded in {record}; stop with "
                   f"Ctrl-C or `scf chain down --port {chain.port}`; its state lives in the "
                   "node's memory and ends with it")
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        chain.close()
        if record is not None:
            record.unlink(missing_ok=True)
        typer.echo("stopped")


@chain_app.command("down")
def chain_down(
    port: Optional[int] = typer.Option(None, help="The node's port (default: the only node "
                                                  "`scf chain up` started from this data dir)."),
) -> None:
    """Stop a node `scf chain up` started (found by its record in SCF_DATA_DIR), and only it."""
    from scf_chain.chain import pidfile
    from scf_chain.config import Settings

    try:
        typer.echo(pidfile.stop(pidfile.find(Settings().data_dir, port)))
    except ScfError as exc:
        _fail(exc)


db_app = typer.Typer(help="The indexed store (SQLite by default, PostgreSQL in production).",
                     no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def db_upgrade(
    url: Optional[str] = typer.Option(None, help="Database URL. Default: SCF_DATABASE_URL."),
    revision: str = typer.Option("head", help="Alembic revision to migrate to."),
) -> None:
    """Apply the Alembic migrations to the database (the only way the schema is created)."""
    from scf_chain import db

    try:
        db.upgrade(url, revision)
    except ScfError as exc:
        _fail(exc)
        return
    typer.echo(f"database migrated to {revision}")


def _missing_key(settings: "Settings", name: str) -> str:
    return (f"the keystore {settings.keystore_path} (SCF_KEYSTORE_PATH) has no key {name!r}: "
            f"create one with `scf keys new {name}` (then fund its address with gas) or bring "
            f"one with `scf keys import {name} KEYFILE.json`")


def _gas(chain: "ChainBackend", address: str) -> str:
    from eth_utils import to_checksum_address

    wei = int(chain.w3.eth.get_balance(to_checksum_address(address)))
    return f"{wei / 10**18:.6f} ETH" + ("  (no gas: fund this address)" if wei == 0 else "")


def _echo_service_keys(chain: "ChainBackend", settings: "Settings", skip: Optional[str]) -> None:
    """The keystore's operator and keeper (those it holds), with their gas."""
    from scf_chain.keys import KeyStore

    if not settings.keystore_path.is_dir():
        return
    store = KeyStore(settings.keystore_path, settings.keystore_password or "-")  # reads only
    names = store.names()
    for name in ("operator", "keeper"):
        if name in names and name != skip:
            address = store.address_of(name)
            typer.echo(f"{name}: {address}, gas {_gas(chain, address)}")
        elif name not in names and settings.is_production_chain:
            typer.echo(f"{name}: no key yet (`scf keys new {name}` before `scf serve`)")


def _deployer(chain: "ChainBackend", key: Optional[str], dev_account: Optional[int]) -> "LocalAccount":
    """The deploying account: a keystore key by name, or (dev chains) a well-known dev account."""
    from scf_chain.config import Settings

    if key is not None:
        from scf_chain.keys import KeyStore

        settings = Settings()
        if not settings.keystore_password:
            raise ConfigError("SCF_KEYSTORE_PASSWORD is needed to unlock the deployer key")
        store = KeyStore(settings.keystore_path, settings.keystore_password)
        if key not in store.names():
            raise ConfigError(_missing_key(settings, key))
        return store.account(key)
    accounts = chain.dev_accounts()
    if not accounts and dev_account is not None:
        from scf_chain.chain.anvil import anvil_dev_accounts

        accounts = anvil_dev_accounts(dev_account + 1)
    if not accounts:
        raise ConfigError("no deployer: pass --key NAME (a keystore key) or, on a dev node "
                          "started with the standard test mnemonic, --dev-account 0")
    return accounts[dev_account or 0]


@app.command("deploy")
def deploy(
    dev_token: bool = typer.Option(False, "--dev-token",
                                   help="Also deploy a mintable test settlement token (dev chains)."),
    settlement_token: list[str] = typer.Option([], "--settlement-token",
                                               help="Address of an ERC-20 to settle in (repeatable)."),
    key: Optional[str] = typer.Option(None, help="Keystore name of the deployer (production)."),
    dev_account: Optional[int] = typer.Option(None, help="Index of a dev-mnemonic account."),
    fresh: bool = typer.Option(False, help="Deploy anew even if a manifest exists (overwrites it)."),
) -> None:
    """Deploy the system and write the manifest (SCF_DEPLOYMENT_FILE); reuse it when it matches."""
    from scf_chain.chain import connect
    from scf_chain.config import Settings
    from scf_chain.deploy import load_or_deploy

    settings = Settings()  # read now: the environment may differ from an earlier call
    if settings.chain_backend == "embedded":
        _fail(ConfigError("the embedded chain lives inside one process and forgets everything when "
                          "it ends: `scf serve` deploys to it at start. Deploy to anvil or an RPC "
                          "node (SCF_CHAIN_BACKEND=rpc SCF_RPC_URL=...)"))
    try:
        with connect(settings) as chain:
            account = _deployer(chain, key, dev_account)
            typer.echo(f"deployer: {account.address} ({key or 'dev account'}), gas "
                       f"{_gas(chain, account.address)}")
            _echo_service_keys(chain, settings, skip=key)
            with Progress(1, "deploying") as bar:
                def step(done: int, total: int, what: str) -> None:
                    bar.total = total
                    bar.update(done, what, force=True)

                manifest, deployed = load_or_deploy(
                    chain, account, settings.manifest_path, settlement_tokens=settlement_token,
                    dev_token=dev_token, fresh=fresh, evm_version=settings.evm_version,
                    progress=step)
    except ScfError as exc:
        _fail(exc)
        return
    verb = "deployed" if deployed else "reusing the deployment in"
    typer.echo(f"{verb} {settings.manifest_path} (chain id {manifest.chain_id}, "
               f"{manifest.evm_version} build)")
    for c in manifest.contracts.values():
        typer.echo(f"  {c.name:<20} {c.address}")


def _store(settings: "Settings") -> "Any":
    from scf_chain.platform.parts import open_store

    return open_store(settings)


def _echo_report(report: "Any") -> None:
    if report.events:
        typer.echo(f"indexed {report.events} events up to block {report.to_block}")


def _catch_up(indexer: "Any") -> "Any":
    """`indexer.index_once()` batch by batch, with a progress bar on a terminal; one report."""
    from dataclasses import replace

    start = indexer.cursor()
    first_block = indexer.start_block if start is None else start[0] + 1
    total = None
    with Progress(1, "indexing") as bar:
        while True:
            r = indexer.index_once(max_batches=1)
            total = r if total is None else replace(
                total, from_block=total.from_block if total.from_block is not None
                else r.from_block, to_block=r.to_block or total.to_block,
                events=total.events + r.events, batches=total.batches + r.batches,
                reorg=total.reorg or r.reorg, head=r.head, caught_up=r.caught_up)
            if r.caught_up or r.batches == 0:
                return total
            bar.total = max(1, r.head - indexer.confirmations - first_block + 1)
            bar.update((r.to_block or first_block) - first_block + 1,
                       f"block {r.to_block}, {total.events} events")


@app.command("index")
def index(
    follow: bool = typer.Option(False, "--follow", help="Keep indexing new blocks until Ctrl-C."),
    interval: float = typer.Option(1.0, help="Seconds between polls with --follow."),
) -> None:
    """Ingest the deployment's events into the store (SCF_DATABASE_URL) from its cursor."""
    from scf_chain.chain import connect
    from scf_chain.config import Settings
    from scf_chain.deploy import Manifest
    from scf_chain.platform.parts import Parts

    settings = Settings()
    try:
        manifest = Manifest.load(settings.manifest_path)
        with connect(settings) as chain:
            parts = Parts.attach(settings, chain, manifest)
            if not follow:
                r = _catch_up(parts.indexer)
                if r.from_block is None:
                    typer.echo(f"nothing new to index (head {r.head})"
                               f"{'; reorg rolled back' if r.reorg else ''}")
                else:
                    typer.echo(f"indexed {r.events} events in blocks {r.from_block}.."
                               f"{r.to_block} (head {r.head})"
                               f"{'; reorg rolled back' if r.reorg else ''}")
                return
            stop = threading.Event()
            signal.signal(signal.SIGTERM, lambda *_: stop.set())
            try:
                parts.indexer.follow(stop, poll_interval_s=interval, on_report=_echo_report)
            except KeyboardInterrupt:
                pass
    except ScfError as exc:
        _fail(exc)


audit_app = typer.Typer(help="The auditor's view of the indexed store.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


@audit_app.command("trace")
def audit_trace(slot: int = typer.Argument(..., help="The receivable (slot) to trace.")) -> None:
    """Print a receivable's trace as JSON: lineage, fund movements, evidence."""
    from scf_chain.audit import trace_receivable
    from scf_chain.config import Settings

    try:
        with _store(Settings())() as s:
            typer.echo(trace_receivable(s, slot).to_json())
    except ScfError as exc:
        _fail(exc)


def _participant_address(session: "Any", who: str) -> str:
    """`who` as an address: a registered address, or a gateway participant's name."""
    from eth_utils import is_address, to_checksum_address
    from sqlalchemy import select

    from scf_chain.db.models import GatewayParticipant, Participant

    if is_address(who):
        return str(to_checksum_address(who))
    gp = session.get(GatewayParticipant, who)
    if gp is not None:
        return str(gp.address)
    known = session.scalars(select(GatewayParticipant.name).order_by(
        GatewayParticipant.name).limit(20)).all()
    registered = session.scalar(select(Participant.address).limit(1))
    raise ConfigError(f"{who!r} is neither an address nor a participant's name in the store "
                      f"(SCF_DATABASE_URL)" + (f"; names: {', '.join(known)}" if known else
                                               "; it has no named participants"
                                               + ("" if registered is None else
                                                  ": give an address")))


@audit_app.command("flows")
def audit_flows(
    address: str = typer.Argument(..., help="The participant's address or gateway name."),
    fmt: str = typer.Option("csv", "--format", help="csv or json"),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write to a file."),
) -> None:
    """Export a participant's money in and out (CSV or JSON)."""
    from scf_chain.audit import participant_flows
    from scf_chain.config import Settings

    if fmt not in ("csv", "json"):
        _fail(ConfigError("--format is csv or json"))
    try:
        with _store(Settings())() as s:
            flows = participant_flows(s, _participant_address(s, address))
    except ScfError as exc:
        _fail(exc)
        return
    text = flows.to_csv() if fmt == "csv" else flows.to_json()
    if output:
        output.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {len(flows.rows)} flows to {output}")
    else:
        typer.echo(text)


@audit_app.command("reconcile")
def audit_reconcile() -> None:
    """Compare the store with the chain; exit 1 if anything differs."""
    from scf_chain.audit import reconcile
    from scf_chain.chain import connect
    from scf_chain.config import Settings
    from scf_chain.deploy import Manifest
    from scf_chain.platform.parts import Parts

    settings = Settings()
    try:
        manifest = Manifest.load(settings.manifest_path)
        with connect(settings) as chain:
            parts = Parts.attach(settings, chain, manifest)
            with parts.sessions() as s:
                report = reconcile(s, chain, manifest)
    except ScfError as exc:
        _fail(exc)
        return
    for d in report.differences:
        typer.echo(f"DIFF {d.kind} {d.key} {d.field}: store={d.db} chain={d.chain}")
    typer.echo(f"checked {report.tokens_checked} tokens, {report.receivables_checked} receivables "
               f"at block {report.block}: {len(report.differences)} differences")
    if report.differences:
        raise typer.Exit(code=1)


@app.command("keeper")
def keeper(
    once: bool = typer.Option(False, "--once", help="One pass, then exit."),
    interval: float = typer.Option(10.0, help="Seconds between passes."),
    batch_size: int = typer.Option(50, min=1, max=500, help="Tokens per redeemBatch."),
    key: Optional[str] = typer.Option(None, help="Keystore name of the keeper's account."),
    dev_account: Optional[int] = typer.Option(None, help="Index of a dev-mnemonic account."),
    keeper_id: Optional[str] = typer.Option(
        None, help="This keeper's name in leases (default: host-pid). A keeper restarted with "
                   "its old id takes its receivables back at once; any other waits for the lease."),
    lease: float = typer.Option(120.0, min=1.0, help="Seconds a receivable stays leased to a "
                                                     "keeper that stops renewing it (killed)."),
) -> None:
    """Collect matured, authorized repayments and pay every holder pro rata, batch by batch."""
    if keeper_id is not None and not 0 < len(keeper_id) <= 64:
        _fail(ConfigError("--keeper-id must be 1 to 64 characters"))
        return
    from scf_chain.chain import connect
    from scf_chain.config import Settings
    from scf_chain.db.outage import is_store_outage
    from scf_chain.deploy import Manifest
    from scf_chain.obs import logs
    from scf_chain.platform.parts import Parts

    settings = Settings()
    logs.configure(settings.log_format, verbose=_DEBUG["verbose"], debug=_DEBUG["on"])
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        manifest = Manifest.load(settings.manifest_path)
        with connect(settings) as chain:
            parts = Parts.attach(settings, chain, manifest)
            k = parts.keeper(_deployer(chain, key, dev_account), keeper_id,
                             batch_size=batch_size, lease_s=lease)
            while True:
                try:
                    report = k.run_once()
                except Exception as exc:  # a database restart: the next pass starts afresh
                    if once or not is_store_outage(exc):
                        raise
                    typer.secho(f"warning: the store is unavailable ({type(exc).__name__}); "
                                f"next pass in {interval:g}s", fg=typer.colors.YELLOW, err=True)
                else:
                    typer.echo(f"collected {sum(report.collected.values())}, paid out "
                               f"{sum(report.redeemed.values())} in {len(report.tx_hashes)} "
                               f"transactions; skipped {len(report.skipped)} receivables; "
                               f"{len(report.stalled)} collections stalled")
                if once or stop.wait(interval):
                    break
    except KeyboardInterrupt:
        pass
    except ScfError as exc:
        _fail(exc)
    except Exception as exc:
        if not is_store_outage(exc):
            raise
        _fail(RuntimeError(f"the store is unavailable: {str(exc).splitlines()[0]}"))


@app.command("serve")
def serve(
    host: str = typer.Option("127.0.0.1"),
    port: int = typer.Option(8000),
    keeper: bool = typer.Option(True, help="Run the repayment keeper beside the API."),
    index_interval: float = typer.Option(2.0, help="Seconds between indexer passes."),
    workers: int = typer.Option(1, min=1, help="Gateway processes on one port. Several need a "
                                "PostgreSQL store (nonces, requests and the indexer are shared "
                                "through it) and a node of their own (SCF_CHAIN_BACKEND=rpc)."),
    background: str = typer.Option(
        "inline", help="Where the indexer and the keeper run: 'inline', a thread of the gateway "
        "process (of each, with --workers; the keeper in the first only); or 'process', one "
        "process of their own beside the gateway processes, which then only serve requests "
        "(needs what --workers needs: a PostgreSQL store and a shared node)."),
    fd: Optional[int] = typer.Option(None, hidden=True,
                                     help="A listening socket inherited from `--workers`."),
    background_only: bool = typer.Option(False, hidden=True,
                                         help="Run only the indexer and keeper (no HTTP): "
                                              "the process `--background process` starts."),
    no_background: bool = typer.Option(False, hidden=True,
                                       help="Serve requests only: a gateway process under "
                                            "`--background process`."),
) -> None:
    """Run the HTTP gateway (embedded chain by default) with the indexer and keeper beside it."""
    import socket

    import uvicorn

    from api.main import create_app
    from scf_chain.config import Settings
    from scf_chain.obs import logs
    from scf_chain.platform.core import Platform

    settings = Settings()
    logs.configure(settings.log_format, verbose=_DEBUG["verbose"], debug=_DEBUG["on"])
    shared_store = _postgres_url(settings.database_url)
    if background not in ("inline", "process"):
        _fail(ConfigError(f"--background is 'inline' or 'process', not {background!r}"))
    separate = background == "process"
    if (workers > 1 or separate) and not (shared_store and settings.chain_backend == "rpc"):
        what = "--workers above 1" if workers > 1 else "--background process"
        _fail(ConfigError(f"{what} needs a PostgreSQL store (SCF_DATABASE_URL) and a "
                          "node the processes share (SCF_CHAIN_BACKEND=rpc, SCF_RPC_URL): SQLite "
                          "and in-process chains serve one process"))
    if fd is None and not background_only:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
            try:
                probe.bind((host, port))
            except OSError as exc:
                _fail(ConfigError(f"cannot listen on {host}:{port} ({exc.strerror}): another "
                                  "gateway may be running there; choose another --port"))
    try:
        settings.check_master_key_placement()
    except ScfError as exc:
        _fail(exc)
    if settings.is_production_chain and fd is None:
        # a node we do not control: service keys are never made silently (they would hold no gas)
        from scf_chain.keys import KeyStore

        if not settings.keystore_password:
            _fail(ConfigError("SCF_KEYSTORE_PASSWORD is needed to open the keystore"))
        names = KeyStore(settings.keystore_path, str(settings.keystore_password)).names()
        for needed in ("operator", *(("keeper",) if keeper else ())):
            if needed not in names:
                _fail(ConfigError(_missing_key(settings, needed)))
    try:
        # on SQLite, exclusive: a second gateway on this data folder or keystore is refused
        # here, in one line, before it deploys or touches the store (nonces are handed out in
        # memory); on PostgreSQL processes share nonces through the store
        platform = Platform.open(settings, exclusive=not shared_store)
    except ScfError as exc:
        _fail(exc)
        return
    if background_only:
        _run_background(platform, keeper, index_interval)
        return
    if workers > 1 or separate:
        _supervise(platform, host, port, workers, keeper, index_interval, separate)
        return
    try:
        keeper_obj = _announce(platform, keeper, quiet=fd is not None)
        app_ = create_app(platform, background=not no_background,
                          index_interval_s=index_interval, keeper=keeper_obj)
        # uvicorn shuts down gracefully on SIGTERM/SIGINT, then re-raises the signal under the
        # handler that was there before it: make that an orderly exit, so the platform closes
        # (a node this process started is stopped) and the exit status is 0.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        # everything loaded so far lives as long as the process: keep it out of the collector's
        # full scans (each request's garbage is then all a collection looks at)
        gc.collect()
        gc.freeze()
        # our handler formats uvicorn's lines too (log_config=None keeps uvicorn's own away);
        # the gateway logs one access line per request itself, with the request id
        where: dict[str, Any] = {"fd": fd} if fd is not None else {"host": host, "port": port}
        uvicorn.run(app_, **where, log_level="info", log_config=None, access_log=False)
    except KeyboardInterrupt:
        pass
    finally:
        platform.close()


def _postgres_url(url: str) -> bool:
    from sqlalchemy import make_url

    return make_url(url).get_backend_name() == "postgresql"


def _announce(platform: Any, keeper: bool, quiet: bool = False) -> Any:
    """The operator's API key file (made once), what runs where, and the keeper (or None)."""
    from scf_chain.files import write_private

    key_file = platform.settings.data_dir / "operator.api-key"
    if not key_file.exists():
        issued = platform.issue_api_key("operator")
        try:
            write_private(key_file, (issued.token + "\n").encode())  # 0600 from its first byte
        except FileExistsError:  # written meanwhile by another process of this gateway
            platform.revoke_api_key("operator", issued.key_id)
    keeper_obj = platform.keeper() if keeper else None
    if quiet:
        return keeper_obj
    typer.echo(f"chain: {platform.chain.info().backend} (id {platform.chain.chain_id()}); "
               f"contracts: {platform.manifest.receivable_token}")
    typer.echo(f"operator API key: {key_file}")
    operator = platform.operator_account.address
    typer.echo(f"operator: {operator}, gas {_gas(platform.chain, operator)}")
    if keeper_obj is not None:
        keeper_address = platform.keys.address_of("keeper")
        typer.echo(f"keeper: {keeper_address}, gas {_gas(platform.chain, keeper_address)}")
    return keeper_obj


def _run_background(platform: Any, keeper: bool, index_interval: float) -> None:
    """The indexer and the keeper, without HTTP, until SIGTERM (`--background process`)."""
    from api.main import Background

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    bg = Background(platform, index_interval, platform.keeper() if keeper else None)
    bg.start()
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        bg.close()
        platform.close()


def _supervise(platform: Any, host: str, port: int, workers: int, keeper: bool,
               index_interval: float, separate: bool = False) -> None:
    """`scf serve --workers N`: deploy, migrate and make the keys once here, then run N gateway
    processes on one listening socket (the kernel spreads connections among them), restarting
    any that dies, until SIGTERM or Ctrl-C. The keeper runs in the first process only; with
    `separate` (`--background process`), the indexer and the keeper run in one more process of
    their own and the gateway processes only serve requests."""
    import os
    import socket
    import subprocess
    import time

    try:
        _announce(platform, keeper)
    finally:
        platform.close()
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    def start(i: int) -> subprocess.Popen[bytes]:
        base = [sys.executable, "-m", "scf_chain.cli", "serve",
                "--index-interval", str(index_interval)]
        if separate and i == workers:  # the indexer and the keeper
            return subprocess.Popen([*base, "--background-only",
                                     "--keeper" if keeper else "--no-keeper"])
        argv = [*base, "--fd", str(sock.fileno()),
                *(["--no-background", "--no-keeper"] if separate else
                  ["--keeper" if keeper and i == 0 else "--no-keeper"])]
        return subprocess.Popen(argv, pass_fds=(sock.fileno(),))

    procs = [start(i) for i in range(workers + (1 if separate else 0))]
    typer.echo(f"{workers} gateway processes on http://{host}:{port} (pids "
               f"{', '.join(str(p.pid) for p in procs[:workers])})"
               + (f", indexer and keeper in pid {procs[-1].pid}" if separate else "")
               + "; Ctrl-C stops")
    try:
        while not stop.wait(0.5):
            for i, proc in enumerate(procs):
                if proc.poll() is not None:
                    typer.echo(f"gateway process {proc.pid} exited ({proc.returncode}); "
                               "starting another", err=True)
                    procs[i] = start(i)
    except KeyboardInterrupt:
        pass
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + 30
        for proc in procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
        sock.close()
        typer.echo("stopped")


keys_app = typer.Typer(
    help="The keystore (SCF_KEYSTORE_PATH): standard Ethereum v3 key files, one per name. Service "
         "keys (operator, keeper, deployer) by name; participants' keys as @NAME.",
    no_args_is_help=True)
app.add_typer(keys_app, name="keys")

_PASSWORD_FILE = typer.Option(None, "--password-file", exists=True, dir_okay=False,
                              help="A file holding the password (default: SCF_KEYSTORE_PASSWORD, "
                                   "else a prompt).")


def _password(password_file: Optional[Path], settings: "Settings", confirm: bool = False) -> str:
    if password_file is not None:
        pw = password_file.read_text(encoding="utf-8").rstrip("\r\n")
    elif settings.keystore_password:
        pw = settings.keystore_password
    elif sys.stdin.isatty():
        pw = typer.prompt("keystore password", hide_input=True, confirmation_prompt=confirm)
    else:
        raise ConfigError("no keystore password: set SCF_KEYSTORE_PASSWORD or pass "
                          "--password-file FILE")
    if not pw:
        raise ConfigError("the keystore password is empty (SCF_KEYSTORE_PASSWORD)")
    return pw


def _keystore(settings: "Settings", password: str) -> "Any":
    from scf_chain.keys import KeyStore

    return KeyStore(settings.keystore_path, password, iterations=settings.keystore_scrypt_n)


def _listing(settings: "Settings") -> "Any":
    """A keystore opened to read names and addresses only (a v3 file keeps its address in clear,
    so no password is needed and none is checked)."""
    return _keystore(settings, settings.keystore_password or "-")


@keys_app.command("new")
def keys_new(name: str = typer.Argument(..., help="The key's name, e.g. operator, keeper."),
             password_file: Optional[Path] = _PASSWORD_FILE) -> None:
    """Create a random key under NAME and print its address (fund it with gas next)."""
    from scf_chain.config import Settings

    settings = Settings()
    try:
        address = _keystore(settings, _password(password_file, settings, confirm=True)).create(name)
    except ScfError as exc:
        _fail(exc)
        return
    typer.echo(f"{name}: {address}")


@keys_app.command("import")
def keys_import(
    name: str = typer.Argument(..., help="The name to keep the key under."),
    file: Path = typer.Argument(..., exists=True, dir_okay=False,
                                help="A standard v3 keystore JSON (geth, cast wallet, MetaMask...)."),
    password_file: Optional[Path] = _PASSWORD_FILE,
    file_password_file: Optional[Path] = typer.Option(
        None, "--file-password-file", exists=True, dir_okay=False,
        help="A file holding FILE's password, if it differs from the keystore's."),
) -> None:
    """Import FILE's key under NAME (re-encrypted with the keystore's password)."""
    import json

    from eth_account import Account

    from scf_chain.config import Settings
    from scf_chain.errors import KeyStoreError

    settings = Settings()
    try:
        password = _password(password_file, settings)
        file_password = (_password(file_password_file, settings) if file_password_file
                         else password)
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except ValueError:
            raise KeyStoreError(f"{file} is not a JSON keystore file") from None
        try:
            key = Account.decrypt(data, file_password)
        except ValueError as exc:
            wrong = "MAC mismatch" in str(exc)
            raise KeyStoreError(f"cannot decrypt {file}: " + (
                "wrong password (--file-password-file for a password of its own)" if wrong
                else f"not a v3 keystore ({exc})")) from None
        except (KeyError, TypeError):
            raise KeyStoreError(f"{file} is not a v3 keystore file") from None
        address = _keystore(settings, password).import_key(name, key)
    except ScfError as exc:
        _fail(exc)
        return
    typer.echo(f"{name}: {address}")


@keys_app.command("list")
def keys_list() -> None:
    """Every active key: NAME ADDRESS (service keys, then participants' @NAME)."""
    from scf_chain.config import Settings

    try:
        store = _listing(Settings())
        for name in store.names():
            typer.echo(f"{name:<24} {store.address_of(name)}")
    except ScfError as exc:
        _fail(exc)


@keys_app.command("address")
def keys_address(name: str = typer.Argument(...)) -> None:
    """Print NAME's address."""
    from scf_chain.config import Settings

    try:
        typer.echo(_listing(Settings()).address_of(name))
    except ScfError as exc:
        _fail(exc)


@keys_app.command("retire")
def keys_retire(name: str = typer.Argument(...)) -> None:
    """Set NAME's key aside (kept encrypted as a retired file); the name is free again."""
    from scf_chain.config import Settings

    try:
        address = _listing(Settings()).retire(name)
    except ScfError as exc:
        _fail(exc)
        return
    typer.echo(f"retired {name} ({address})")


@keys_app.command("rotate-key")
def keys_rotate_key(
    name: str = typer.Argument(..., help="The participant (or `operator`) whose key to replace."),
) -> None:
    """Give participant NAME a new signing key and move what its old address holds and owes:
    roles, tokens, receivables it owes (the contract's debtor move), settlement money,
    allowances, gas; `operator` hands the operator role over in two steps. As
    `POST /participants/NAME/rotate-key`; run it again to finish one cut off part-way. Opens the
    deployment like `scf serve` (SCF_* settings): on SQLite stop the gateway first, on
    PostgreSQL gateway processes pick the new key up themselves."""
    from scf_chain.config import Settings
    from scf_chain.platform import rotation
    from scf_chain.platform.core import Platform

    try:
        platform = Platform.open(Settings())
        try:
            r = rotation.rotate(platform, name)
        finally:
            platform.close()
    except ScfError as exc:
        _fail(exc)
        return
    typer.echo(f"{r.participant}: {r.old_address} -> {r.new_address}"
               f"{' (resumed)' if r.resumed else ''}")
    typer.echo(f"tokens moved: {len(r.tokens_moved)}; debts moved: {len(r.debts_moved)} "
               f"receivables; money moved: {sum(r.money_moved.values())}; allowances given: "
               f"{len(r.allowances_given)}; gas moved: {r.gas_moved_wei} wei; "
               f"{len(r.tx_hashes)} transactions")


@keys_app.command("export")
def keys_export(
    name: str = typer.Argument(...),
    output: Optional[Path] = typer.Option(None, "--output", "-o",
                                          help="Write to FILE (mode 0600) instead of stdout."),
) -> None:
    """NAME's v3 keystore JSON, encrypted with the keystore's password (for other tools)."""
    import json

    from scf_chain.config import Settings
    from scf_chain.files import write_private

    try:
        text = json.dumps(_listing(Settings()).keystore_json(name))
    except ScfError as exc:
        _fail(exc)
        return
    if output is None:
        typer.echo(text)
    else:
        write_private(output, (text + "\n").encode())
        typer.echo(f"wrote {name}'s key file to {output}")


@keys_app.command("master-key")
def keys_master_key(
    path: Optional[Path] = typer.Argument(
        None, help="Where to create it (default: SCF_MASTER_KEY_FILE, else <data dir>/master.key)."),
) -> None:
    """Create the documents' master key: 32 random bytes in a new 0600 file (never overwrites)."""
    from scf_chain.config import Settings
    from scf_chain.evidence.store import MasterKey

    target = path or Settings().master_key_path
    try:
        key = MasterKey.generate(target)
    except FileExistsError:
        _fail(ConfigError(f"{target} exists already: it may wrap documents, so it is never "
                          "overwritten"))
        return
    except OSError as exc:
        _fail(ConfigError(f"cannot create {target}: {exc.strerror}"))
        return
    typer.echo(f"created the master key {target} (id {key.key_id}); point SCF_MASTER_KEY_FILE "
               "at it and keep a copy apart from the data")


def main() -> None:
    try:
        app()
    except Exception as exc:
        message = None if "--debug" in sys.argv[1:] else explain(exc)
        if message is None:
            raise
        typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
