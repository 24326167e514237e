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
    assert bad.exit_code == 2 and "no receivable" in bad.output


@pytest.mark.parametrize("backend", ["embedded", pytest.param("anvil", marks=pytest.mark.anvil)])
def test_serve_runs_the_gateway_on_a_node_it_starts(tmp_path: Path, backend: str) -> None:
    """`scf serve` as an operator starts it: a real process and port, the operator's key file,
    a clean stop on SIGTERM; and again (a node it starts is new each time: nothing of the last
    one may be reused)."""
    for _ in range(2):
        _serve_once(tmp_path, backend)


def _serve_once(tmp_path: Path, backend: str) -> None:
    import json
    import os
    import re
    import signal
    import socket
    import subprocess
    import sys
    import threading
    import time
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "SCF_KEYSTORE_PASSWORD": "pw", "SCF_KEYSTORE_SCRYPT_N": "1024",
           "SCF_CHAIN_BACKEND": backend}
    proc = subprocess.Popen([sys.executable, "-m", "scf_chain.cli", "serve", "--port", str(port),
                             "--no-keeper"], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")),
                              daemon=True)  # type: ignore[union-attr]
    reader.start()
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
        assert health is not None, "".join(lines)
        assert health["status"] == "ok" and health["receivable_token"].startswith("0x")
        # the operator's key, in the file the server named, works while it runs
        found = re.search(r"operator API key: (\S+)", "".join(lines))
        assert found, "".join(lines)
        key_file = Path(found.group(1))
        assert oct(key_file.stat().st_mode & 0o777) == "0o600"
        req = urllib.request.Request(f"http://127.0.0.1:{port}/participants/me", headers={
            "Authorization": f"Bearer {key_file.read_text().strip()}"})
        with urllib.request.urlopen(req, timeout=10) as r:
            assert json.load(r)["name"] == "operator"
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        reader.join(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    out = "".join(lines)
    assert proc.returncode == 0, out
    assert f"chain: {backend}" in out
    assert re.search(r"operator: 0x[0-9a-fA-F]{40}, gas \d+\.\d+ ETH", out), out
    assert not key_file.exists()  # a node that is gone takes its throw-away state with it


def test_keeper_refuses_an_id_that_does_not_fit_a_lease() -> None:
    result = CliRunner().invoke(app, ["keeper", "--once", "--keeper-id", "k" * 65])
    assert result.exit_code == 2 and "1 to 64 characters" in result.output


def _row_counts(url: str) -> dict[str, int]:
    from sqlalchemy import func, select

    from scf_chain import db
    from scf_chain.db.models import Base

    engine = db.make_engine(url)
    try:
        with engine.connect() as conn:
            return {t.name: int(conn.scalar(select(func.count()).select_from(t)) or 0)
                    for t in Base.metadata.sorted_tables}
    finally:
        engine.dispose()


@pytest.mark.anvil
def test_index_keeper_and_audit_refuse_a_reset_node_and_leave_the_store(
        anvil_chain, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from scf_chain.chain.anvil import AnvilChain

    store = f"sqlite:///{tmp_path}/s.db"
    env = {"SCF_CHAIN_BACKEND": "rpc", "SCF_RPC_URL": anvil_chain.rpc_url,
           "SCF_DEPLOYMENT_FILE": str(tmp_path / "m.json"), "SCF_DATABASE_URL": store}
    runner = CliRunner()
    for args in (["deploy", "--dev-token", "--dev-account", "0"], ["index"]):
        result = runner.invoke(app, args, env=env)
        assert result.exit_code == 0, result.output
    before = _row_counts(store)
    assert before["raw_events"] > 0
    reset = AnvilChain()  # the same chain id, none of the deployment's history or contracts
    try:
        assert reset.chain_id() == anvil_chain.chain_id()
        foreign = {**env, "SCF_RPC_URL": reset.rpc_url}
        for args in (["index"], ["index", "--follow"], ["keeper", "--once", "--dev-account", "4"],
                     ["audit", "reconcile"]):
            result = runner.invoke(app, args, env=foreign)
            assert result.exit_code == 2, (args, result.output)
            lines = result.output.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("error: "), (args, result.output)
            assert "has no code on chain" in lines[0] and "not the chain the manifest" in lines[0]
            assert "Traceback" not in result.output
            assert _row_counts(store) == before, args
    finally:
        reset.close()
    # the right node is still served from the untouched store
    result = runner.invoke(app, ["index"], env=env)
    assert result.exit_code == 0 and "reorg" not in result.output, result.output
    assert _row_counts(store) == before
    # nothing new since: said plainly (it once printed "blocks None..None")
    again = runner.invoke(app, ["index"], env=env)
    assert again.exit_code == 0 and again.output.startswith("nothing new to index"), again.output
    assert "None" not in again.output


@pytest.mark.anvil
def test_keeper_rides_out_a_store_outage(anvil_chain, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy.exc import OperationalError

    from scf_chain.keeper import Keeper

    env = {"SCF_CHAIN_BACKEND": "rpc", "SCF_RPC_URL": anvil_chain.rpc_url,
           "SCF_DEPLOYMENT_FILE": str(tmp_path / "m.json"),
           "SCF_DATABASE_URL": f"sqlite:///{tmp_path}/s.db"}
    runner = CliRunner()
    assert runner.invoke(app, ["deploy", "--dev-token", "--dev-account", "0"],
                         env=env).exit_code == 0
    real = Keeper.run_once
    passes: list[str] = []

    def run_once(self: Keeper) -> object:
        passes.append("pass")
        if len(passes) == 1:  # the database restarts under the first pass
            raise OperationalError("SELECT 1", {}, Exception("server closed the connection"))
        if len(passes) == 3:
            raise KeyboardInterrupt  # Ctrl-C after a good pass
        return real(self)

    monkeypatch.setattr(Keeper, "run_once", run_once)
    result = runner.invoke(app, ["keeper", "--interval", "0.01", "--dev-account", "4"], env=env)
    assert result.exit_code == 0, result.output
    assert "warning: the store is unavailable (OperationalError)" in result.output
    assert "collected 0, paid out 0" in result.output and len(passes) == 3
    # with --once the outage is the answer: no silent success
    passes.clear()
    result = runner.invoke(app, ["keeper", "--once", "--dev-account", "4"], env=env)
    assert result.exit_code == 2 and len(passes) == 1
    assert result.output.startswith("error: the store is unavailable: ")
    assert "Traceback" not in result.output


def test_a_second_gateway_on_the_same_data_dir_is_refused_in_one_line(tmp_path: Path) -> None:
    """Two real `scf serve` processes on one data folder: the second exits 1 with one line naming
    the first (no traceback) and the first keeps serving; what the first made is private."""
    import json
    import os
    import signal
    import socket
    import stat
    import subprocess
    import sys
    import time
    import urllib.request

    def free_port() -> int:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return int(s.getsockname()[1])

    data = tmp_path / "var"
    env = {**os.environ, "SCF_KEYSTORE_PASSWORD": "pw", "SCF_KEYSTORE_SCRYPT_N": "1024",
           "SCF_CHAIN_BACKEND": "embedded", "SCF_DATA_DIR": str(data),
           "SCF_DATABASE_URL": f"sqlite:///{data}/scf.db", "SCF_KEYSTORE_PATH": str(data / "keys"),
           "SCF_DOCUMENT_STORE_PATH": str(data / "documents")}

    def serve(port: int) -> list[str]:
        return [sys.executable, "-m", "scf_chain.cli", "serve", "--port", str(port), "--no-keeper"]

    def health(port: int) -> dict[str, object] | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                return dict(json.load(r))
        except OSError:
            return None

    port = free_port()
    first = subprocess.Popen(serve(port), cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, preexec_fn=lambda: os.umask(0o022))
    try:
        deadline = time.monotonic() + 120
        while first.poll() is None and time.monotonic() < deadline and health(port) is None:
            time.sleep(0.3)
        assert health(port) is not None, f"the first gateway did not start ({first.poll()})"
        loose = [f"{p} {oct(stat.S_IMODE(p.stat().st_mode))}" for p in [data, *data.rglob("*")]
                 if stat.S_IMODE(p.stat().st_mode) != (0o700 if p.is_dir() else 0o600)]
        assert loose == []
        assert (data / "operator.api-key").exists() and (data / "scf.db-wal").exists()

        second = subprocess.run(serve(free_port()), cwd=tmp_path, env=env, capture_output=True,
                                text=True, timeout=180)
        out = (second.stdout + second.stderr).strip()
        assert second.returncode == 2, out
        assert out.splitlines() == [out] and out.startswith(
            f"error: another gateway (pid {first.pid}) is running on {data}"), out
        assert health(port) is not None  # the first one is untouched
    finally:
        first.send_signal(signal.SIGTERM)
        try:
            first.wait(timeout=60)
        except subprocess.TimeoutExpired:
            first.kill()
            first.wait()


def test_audit_flows_takes_an_address_and_resolves_a_gateway_name(tmp_path: Path) -> None:
    from scf_chain import db
    from scf_chain.db.models import GatewayParticipant

    store = f"sqlite:///{tmp_path}/s.db"
    db.upgrade(store)
    address = "0x" + "ab" * 20
    with db.session_factory(db.make_engine(store))() as s:
        s.add(GatewayParticipant(name="supa", address=address, roles=0, key_name="@supa",
                                 display_name="Supa", created_at=0))
        s.commit()
    env = {"SCF_DATABASE_URL": store}
    runner = CliRunner()
    by_name = runner.invoke(app, ["audit", "flows", "supa", "--format", "json"], env=env)
    by_address = runner.invoke(app, ["audit", "flows", address, "--format", "json"], env=env)
    assert by_name.exit_code == 0 and by_name.output == by_address.output, by_name.output
    unknown = runner.invoke(app, ["audit", "flows", "nobody"], env=env)
    assert unknown.exit_code == 2 and "'nobody'" in unknown.output and "supa" in unknown.output
