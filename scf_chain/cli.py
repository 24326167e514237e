"""The `scf` command: build contracts, run a local chain, and (added by other modules) deploy, keep, serve."""

from __future__ import annotations

import signal
import threading
from typing import TYPE_CHECKING, Optional

import typer

from scf_chain.errors import ConfigError, ScfError

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

    from scf_chain.chain.base import ChainBackend

app = typer.Typer(help="scf-chain: blockchain-backed receivables for supply chain finance.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
chain_app = typer.Typer(help="Local chains for development.", no_args_is_help=True)
app.add_typer(chain_app, name="chain")


def _fail(exc: Exception) -> None:
    typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code=1)


@app.command("build-contracts")
def build_contracts(
    check: bool = typer.Option(False, "--check", help="Only verify the committed artifacts."),
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
    backend: str = typer.Option("anvil", help="anvil (a node other processes can reach)."),
    host: str = typer.Option("127.0.0.1"),
    port: Optional[int] = typer.Option(None, help="Default: a free port."),
) -> None:
    """Start a local chain, print its RPC URL and dev accounts, run until Ctrl-C."""
    if backend != "anvil":
        _fail(ValueError("only `anvil` can be served to other processes; the embedded chain "
                         "lives inside one Python process (use `scf serve`)"))
    from scf_chain.chain.anvil import AnvilChain

    try:
        chain = AnvilChain(host=host, port=port)
    except ScfError as exc:
        _fail(exc)
        return
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        typer.echo(f"RPC URL: {chain.rpc_url}")
        typer.echo(f"chain id: {chain.chain_id()}")
        for i, acct in enumerate(chain.dev_accounts()[:5]):
            typer.echo(f"account {i}: {acct.address}")
        typer.echo("dev accounts derive from the mnemonic 'test test ... junk'; Ctrl-C stops")
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        chain.close()
        typer.echo("stopped")


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


def _deployer(chain: "ChainBackend", key: Optional[str], dev_account: Optional[int]) -> "LocalAccount":
    """The deploying account: a keystore key by name, or (dev chains) a well-known dev account."""
    from scf_chain.config import Settings

    if key is not None:
        from scf_chain.keys import KeyStore

        settings = Settings()
        if not settings.keystore_password:
            raise ConfigError("SCF_KEYSTORE_PASSWORD is needed to unlock the deployer key")
        return KeyStore(settings.keystore_path, settings.keystore_password).account(key)
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
            manifest, deployed = load_or_deploy(
                chain, _deployer(chain, key, dev_account), settings.manifest_path,
                settlement_tokens=settlement_token, dev_token=dev_token, fresh=fresh)
    except ScfError as exc:
        _fail(exc)
        return
    verb = "deployed" if deployed else "reusing the deployment in"
    typer.echo(f"{verb} {settings.manifest_path} (chain id {manifest.chain_id})")
    for c in manifest.contracts.values():
        typer.echo(f"  {c.name:<20} {c.address}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
