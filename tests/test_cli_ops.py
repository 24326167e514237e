"""The operator's CLI additions: the master key command, chain up/down by pid file, progress."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scf_chain.cli import app
from scf_chain.evidence.store import MasterKey
from scf_chain.obs.progress import Progress


def test_keys_master_key_creates_a_private_key_once(tmp_path: Path) -> None:
    target = tmp_path / "secrets" / "master.key"
    made = CliRunner().invoke(app, ["keys", "master-key", str(target)])
    assert made.exit_code == 0, made.output
    assert oct(target.stat().st_mode & 0o777) == "0o600" and len(target.read_bytes()) == 32
    assert MasterKey.from_file(target).key_id in made.output
    before = target.read_bytes()
    again = CliRunner().invoke(app, ["keys", "master-key", str(target)])
    assert again.exit_code == 2 and again.output.startswith("error: ") and "never overwritten" \
        in again.output and len(again.output.strip().splitlines()) == 1
    assert target.read_bytes() == before
    # the default place is the setting
    default = tmp_path / "d" / "m.key"
    by_setting = CliRunner().invoke(app, ["keys", "master-key"],
                                    env={"SCF_MASTER_KEY_FILE": str(default)})
    assert by_setting.exit_code == 0 and default.exists()


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_draws_only_on_a_terminal() -> None:
    piped = io.StringIO()
    with Progress(10, "indexing", stream=piped) as bar:
        for i in range(11):
            bar.update(i, force=True)
    assert piped.getvalue() == ""
    tty = _Tty()
    with Progress(4, "deploying", stream=tty) as bar:
        bar.update(2, "ReceivableToken", force=True)
    drawn = tty.getvalue()
    assert "deploying [###############---------------] 2/4  ReceivableToken" in drawn
    assert drawn.endswith("\r\x1b[2K")  # the line is cleared for what follows
    assert os.linesep not in drawn


def _chain_up(tmp_path: Path, port: int) -> tuple[subprocess.Popen[str], Path]:
    env = {**os.environ, "SCF_DATA_DIR": str(tmp_path / "var")}
    proc = subprocess.Popen([sys.executable, "-m", "scf_chain.cli", "chain", "up", "--port",
                             str(port)], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    record = tmp_path / "var" / f"chain-{port}.json"
    deadline = time.monotonic() + 120
    while not record.exists():
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        assert time.monotonic() < deadline, "scf chain up wrote no record"
        time.sleep(0.2)
    return proc, record


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "Z" not in \
        Path(f"/proc/{pid}/stat").read_text().split()[2]


@pytest.mark.anvil
def test_chain_down_stops_exactly_the_node_chain_up_started(tmp_path: Path) -> None:
    from scf_chain.chain.anvil import free_port

    env = {"SCF_DATA_DIR": str(tmp_path / "var")}
    port, other_port = free_port(), free_port()
    proc, record = _chain_up(tmp_path, port)
    other, other_record = _chain_up(tmp_path, other_port)  # a second node: left running
    try:
        rec = json.loads(record.read_text())
        assert oct(record.stat().st_mode & 0o777) == "0o600"
        assert rec["pid"] == proc.pid and rec["rpc_url"].endswith(f":{port}")
        # two nodes from one data dir: which one must be said
        both = CliRunner().invoke(app, ["chain", "down"], env=env)
        assert both.exit_code == 2 and "--port" in both.output
        down = CliRunner().invoke(app, ["chain", "down", "--port", str(port)], env=env)
        assert down.exit_code == 0, down.output
        assert f"port {port}: stopped `scf chain up` (pid {proc.pid}) and its node" in down.output
        proc.wait(timeout=60)
        assert not _alive(rec["node_pid"]) and not record.exists()
        assert other.poll() is None and other_record.exists()  # the other node still runs

        # a `chain up` killed outright leaves its node: `chain down` stops that node
        kept = json.loads(other_record.read_text())
        other.kill()
        other.wait(timeout=60)
        assert _alive(kept["node_pid"])
        down = CliRunner().invoke(app, ["chain", "down"], env=env)
        assert down.exit_code == 0 and "a killed `scf chain up` left behind" in down.output
        assert not _alive(kept["node_pid"]) and not other_record.exists()
    finally:
        for p in (proc, other):
            if p.poll() is None:
                p.kill()
                p.wait()


def test_a_record_whose_pids_run_something_else_signals_nothing(tmp_path: Path) -> None:
    from scf_chain.chain.pidfile import NodeRecord

    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        NodeRecord(sleeper.pid, sleeper.pid, 9, "http://127.0.0.1:9").write(tmp_path / "var")
        down = CliRunner().invoke(app, ["chain", "down"], env={"SCF_DATA_DIR": str(tmp_path / "var")})
        assert down.exit_code == 0 and "nothing was running (a stale record)" in down.output
        assert sleeper.poll() is None  # a reused pid is never signalled
        assert not (tmp_path / "var" / "chain-9.json").exists()
        none = CliRunner().invoke(app, ["chain", "down"], env={"SCF_DATA_DIR": str(tmp_path / "var")})
        assert none.exit_code == 2 and none.output.startswith("error: no node started")
    finally:
        sleeper.kill()
        sleeper.wait()


def test_index_catch_up_goes_batch_by_batch_and_reports_once(monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    """`scf index` ingests one batch at a time (to draw progress) and prints one summary."""
    from scf_chain import cli
    from scf_chain.indexer.ingest import IndexReport

    class Fake:
        start_block, confirmations, head, chunk = 10, 2, 52, 10

        def __init__(self) -> None:
            self.at: int | None = None
            self.calls = 0

        def cursor(self) -> tuple[int, str] | None:
            return None if self.at is None else (self.at, "0x")

        def index_once(self, max_batches: int | None = None) -> IndexReport:
            assert max_batches == 1
            self.calls += 1
            safe = self.head - self.confirmations
            start = self.start_block if self.at is None else self.at + 1
            if start > safe:
                return IndexReport(None, None, 0, 0, None, self.head, True)
            end = min(start + self.chunk - 1, safe)
            self.at = end
            return IndexReport(start, end, 3, 1, None, self.head, end >= safe)

    drawn: list[tuple[int, int]] = []
    monkeypatch.setattr(Progress, "update", lambda self, done, note="", force=False:
                        drawn.append((done, self.total)))
    fake = Fake()
    report = cli._catch_up(fake)
    # blocks 10..50 in batches of 10: five batches, one report covering all of them
    assert fake.calls == 5
    assert (report.from_block, report.to_block, report.events, report.batches) == (10, 50, 15, 5)
    assert report.caught_up and report.head == 52
    assert drawn == [(10, 41), (20, 41), (30, 41), (40, 41)]
    # nothing new: one call, nothing drawn
    drawn.clear()
    again = cli._catch_up(fake)
    assert (again.from_block, again.events, again.caught_up) == (None, 0, True) and drawn == []
