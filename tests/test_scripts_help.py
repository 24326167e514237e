"""Every benchmark script explains each of its options in `--help`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCHES = sorted((ROOT / "scripts").glob("bench_*.py"))


def option_help(text: str) -> dict[str, str]:
    """`--option` -> its help text, from argparse's `options:` section."""
    section = text.split("options:", 1)[1]
    entries: dict[str, str] = {}
    current: str | None = None
    for line in section.splitlines():
        head = re.match(r"^  (-\S.*?)(?:\s{2,}(.*))?$", line)
        if head:
            names = re.findall(r"--[a-z][a-z0-9-]*", head.group(1))
            current = names[0] if names else head.group(1).split(",")[0]
            entries[current] = head.group(2) or ""
        elif current is not None and line.startswith("    "):
            entries[current] += " " + line.strip()
    return {k: re.sub(r"\(default: [^)]*\)", "", v).strip() for k, v in entries.items()}


def test_there_are_benchmarks_to_check() -> None:
    assert {p.name for p in BENCHES} >= {"bench_api.py", "bench_gas.py", "bench_evidence.py",
                                         "bench_risk.py"}


@pytest.mark.parametrize("script", BENCHES, ids=[p.name for p in BENCHES])
def test_every_benchmark_option_has_help_text(script: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "100"}
    done = subprocess.run([sys.executable, str(script), "--help"], capture_output=True,
                          text=True, timeout=180, env=env, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    usage_options = set(re.findall(r"\[(--[a-z][a-z0-9-]*)", done.stdout.split("\n\n")[0]))
    described = option_help(done.stdout)
    assert usage_options and usage_options <= set(described), done.stdout
    bare = [name for name, text in described.items() if len(re.findall(r"[A-Za-z]{2,}", text)) < 2]
    assert bare == [], f"{script.name}: options without help text: {bare}\n{done.stdout}"
    # the description says what the script measures and where it writes
    assert "reports/" in done.stdout or "report" in done.stdout


def test_the_checker_finds_an_option_without_help() -> None:
    text = ("usage: x [-h] [--a A] [--b B]\n\noptions:\n  -h, --help  show this help message\n"
            "  --a A       what a does (default: 1)\n  --b B\n")
    assert option_help(text) == {"--help": "show this help message", "--a": "what a does",
                                 "--b": ""}
