"""The house style's static checks are part of the suite: ruff (pinned rules) and mypy."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=600, check=False)


def test_ruff_finds_nothing() -> None:
    result = _run("ruff", "check", "scf_chain", "api", "tests", "scripts")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.xdist_group("mypy")
def test_mypy_is_clean() -> None:
    # the demo and its client story are checked too (a client of the gateway, kept beside the demo)
    result = _run("mypy", "scf_chain", "api", "scripts/demo.py", "scripts/demo_story.py")
    assert result.returncode == 0, result.stdout + result.stderr
