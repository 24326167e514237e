"""The operator's CLI additions: the master key command, chain up/down by pid file, progress."""

from __future__ import annotations

import io
import os
from pathlib import Path

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
