"""README's demo story runs over HTTP to the end with every amount right and a clean reconciliation."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_demo_story_ends_clean() -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "demo.py")], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert "reconciliation: " in proc.stdout and ", 0 differences" in proc.stdout
    assert "demo: OK" in proc.stdout
