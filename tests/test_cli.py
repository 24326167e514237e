"""The operator's commands against a real node: deploy, index, keep, audit."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from scf_chain.cli import app


@pytest.mark.anvil
def test_deploy_index_keeper_and_reconcile_commands(anvil_chain, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    env = {"SCF_CHAIN_BACKEND": "rpc", "SCF_RPC_URL": anvil_chain.rpc_url,
           "SCF_DEPLOYMENT_FILE": str(tmp_path / "m.json"),
           "SCF_DATABASE_URL": f"sqlite:///{tmp_path}/s.db"}
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(app, list(args), env=env)
        assert result.exit_code == 0, result.output
        return result.output

    assert "deployed" in run("deploy", "--dev-token", "--dev-account", "0")
    assert "indexed" in run("index")
    out = run("keeper", "--once", "--dev-account", "4")
    assert "collected 0, paid out 0" in out
    assert "0 differences" in run("audit", "reconcile")
    bad = runner.invoke(app, ["audit", "trace", "99"], env=env)
    assert bad.exit_code == 1 and "no receivable" in bad.output
