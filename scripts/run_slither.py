"""Run slither on contracts/ through the solc JS wrapper and check findings against the triage file.

Usage: .venv/bin/python scripts/run_slither.py [--write-json out.json]
Exit 0 when every high/medium finding is listed in contracts/slither-triage.json with a reason,
1 otherwise (the untriaged findings are printed). Slither lives in .venv-slither (it pins web3<8).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scf_chain.contracts import build  # noqa: E402

TRIAGE = ROOT / "contracts" / "slither-triage.json"
SLITHER = ROOT / ".venv-slither" / "bin" / "slither"
GATED = {"High", "Medium"}


def finding_key(det: dict) -> str:
    """A stable key: detector + the first source element (contract.function or contract)."""
    first = (det.get("elements") or [{}])[0]
    name = first.get("name", "")
    parent = first.get("type_specific_fields", {}).get("parent", {}).get("name", "")
    return f"{det['check']}:{parent + '.' if parent else ''}{name}"


def run() -> list[dict]:
    if not SLITHER.exists():
        raise SystemExit("slither is not installed: run `SCF_WITH_SLITHER=1 bash scripts/setup.sh`")
    sources = {k: v for k, v in build.collect_sources().items()}
    std = build.standard_input(sources, for_analysis=True)
    with tempfile.TemporaryDirectory() as tmp:
        inp = Path(tmp) / "input.json"
        out = Path(tmp) / "slither.json"
        inp.write_text(json.dumps(std))
        proc = subprocess.run(
            [str(SLITHER), str(inp), "--compile-force-framework", "solc-json",
             "--solc", str(ROOT / "scripts" / "solc-wrapper.js"),
             "--exclude-dependencies", "--filter-paths", "node_modules|@openzeppelin|contracts/test/",
             "--json", str(out)],
            cwd=ROOT, capture_output=True, text=True, timeout=600,
        )
        if not out.exists():
            raise SystemExit(f"slither failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
        report = json.loads(out.read_text())
    if not report.get("success", False):
        raise SystemExit(f"slither reported an error: {report.get('error')}")
    return report.get("results", {}).get("detectors", [])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--write-json", type=Path)
    args = parser.parse_args()
    detectors = run()
    if args.write_json:
        args.write_json.write_text(json.dumps(detectors, indent=2))
    triage = json.loads(TRIAGE.read_text()) if TRIAGE.exists() else {}
    untriaged = []
    for det in detectors:
        if det.get("impact") not in GATED:
            continue
        key = finding_key(det)
        entry = triage.get(key)
        if not entry or not str(entry.get("reason", "")).strip():
            untriaged.append((key, det.get("impact"), det.get("description", "").strip()))
    counts: dict[str, int] = {}
    for det in detectors:
        counts[det.get("impact", "?")] = counts.get(det.get("impact", "?"), 0) + 1
    print("slither findings by impact:", json.dumps(counts, sort_keys=True))
    if untriaged:
        print(f"{len(untriaged)} high/medium finding(s) neither fixed nor triaged:")
        for key, impact, desc in untriaged:
            print(f"- [{impact}] {key}\n  {desc[:500]}")
        return 1
    print("every high/medium finding is triaged in contracts/slither-triage.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
