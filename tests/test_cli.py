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


def test_serve_runs_the_gateway_on_the_embedded_chain(tmp_path: Path) -> None:
    """`scf serve` as an operator starts it: a real process and port, the operator's key file,
    an authenticated request, and a clean stop on SIGTERM."""
    import json
    import os
    import re
    import signal
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "SCF_KEYSTORE_PASSWORD": "pw", "SCF_KEYSTORE_SCRYPT_N": "1024",
           "SCF_DATA_DIR": str(tmp_path / "var"),
           "SCF_DATABASE_URL": f"sqlite:///{tmp_path}/s.db"}
    proc = subprocess.Popen([sys.executable, "-m", "scf_chain.cli", "serve", "--port", str(port),
                             "--no-keeper"], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        health = None
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                    health = json.load(r)
                break
            except OSError:
                time.sleep(0.3)
        assert health is not None, proc.stdout.read() if proc.poll() is not None else "no answer"
        assert health["status"] == "ok" and health["receivable_token"].startswith("0x")
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, out
    assert "chain: embedded" in out
    key_file = Path(re.search(r"operator API key: (\S+)", out).group(1))  # type: ignore[union-attr]
    assert key_file.read_text().strip() and oct(key_file.stat().st_mode & 0o777) == "0o600"
