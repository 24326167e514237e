"""docs/api.md cannot rot: its shell blocks run, in order, against a live gateway, and every
answer's status (and problem code) must be the one its `# →` line states."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.live import live_gateway

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "api.md"
FENCE = re.compile(r"^```sh( env)?\n(.*?)^```$", re.S | re.M)
EXPECT = re.compile(r"^\s*# → (\d{3})(?: ([a-z][A-Za-z0-9_]*))?", re.M)
ASSIGN = re.compile(r"^export ([A-Z_]+)=", re.M)

# every curl the guide runs goes through this: the answer's status and problem code are logged
# under the block's number, the body goes on to the guide's pipes as curl would print it
WRAPPER = r"""
set -euo pipefail
curl() {
  local body status code
  body=$(mktemp)
  status=$(command curl -sS -o "$body" -w '%{http_code}' "$@") || { rm -f "$body"; return 1; }
  code=$(jq -r 'if type == "object" then (.code // "") else "" end' < "$body" 2>/dev/null \
         || true)
  printf '%s %s %s\n' "$GUIDE_STEP" "$status" "$code" >> "$GUIDE_LOG"
  cat "$body"
  rm -f "$body"
}
"""


@dataclass
class Block:
    env: bool
    text: str

    def expected(self) -> list[tuple[str, str]]:
        return _collapse([(m.group(1), m.group(2) or "") for m in EXPECT.finditer(self.text)])


def _collapse(answers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Consecutive equal answers as one (a polling loop answers as often as it polls)."""
    return [a for i, a in enumerate(answers) if i == 0 or answers[i - 1] != a]


def guide_blocks() -> list[Block]:
    return [Block(bool(m.group(1)), m.group(2)) for m in FENCE.finditer(GUIDE.read_text())]


def test_the_guide_has_one_env_block_and_every_curl_states_its_answer() -> None:
    blocks = guide_blocks()
    assert [b.env for b in blocks].count(True) == 1 and blocks[0].env
    assert set(ASSIGN.findall(blocks[0].text)) == {"SCF", "OPERATOR_KEY"}
    for b in blocks[1:]:
        calls = len(re.findall(r"\bcurl\b", b.text))
        assert calls and len(EXPECT.findall(b.text)) == calls, b.text



@pytest.fixture(scope="module")
def gateway() -> Iterator[tuple[str, str]]:
    """A fresh gateway over real HTTP with its keeper: (base URL, operator API key)."""
    with live_gateway("guide-gateway") as (url, platform):
        yield url, platform.issue_api_key("operator").token


@pytest.mark.skipif(not (shutil.which("curl") and shutil.which("jq") and shutil.which("bash")),
                    reason="the guide's commands need bash, curl and jq")
def test_every_command_of_the_guide_answers_as_stated(gateway: tuple[str, str],
                                                       tmp_path: Path) -> None:
    url, operator_key = gateway
    blocks = guide_blocks()
    values = {"SCF": url, "OPERATOR_KEY": operator_key}  # the env block's, for this gateway
    log = tmp_path / "answers.log"
    log.touch()
    script = [WRAPPER, f"GUIDE_LOG={log}"]
    script += [f"export {name}={value}" for name, value in values.items()]
    for n, block in enumerate(blocks):
        if not block.env:
            script += [f"GUIDE_STEP={n}", block.text]
    run = subprocess.run(["bash", "-c", "\n".join(script)], capture_output=True, text=True,
                         timeout=900, cwd=tmp_path)
    assert run.returncode == 0, f"stdout:\n{run.stdout[-4000:]}\nstderr:\n{run.stderr[-4000:]}"
    got: dict[int, list[tuple[str, str]]] = {}
    for line in log.read_text().splitlines():
        step, status, *code = line.split(" ")
        got.setdefault(int(step), []).append((status, (code or [""])[0]))
    for n, block in enumerate(blocks):
        if block.env:
            continue
        # a 2xx answer's body has no problem code; a problem's code is checked where stated
        answers = _collapse([(s, c if not s.startswith("2") else "") for s, c in got.get(n, [])])
        wanted = block.expected()
        why = f"block {n}:\n{block.text}\nanswers: {got.get(n)}\noutput:\n{run.stdout[-3000:]}"
        assert len(answers) == len(wanted), why
        for (status, code), (want_status, want_code) in zip(answers, wanted, strict=True):
            assert status == want_status and (not want_code or code == want_code), why
    # the story ended where the guide says: the receivable settled, the proof verified
    assert re.search(r'"status":\s*"settled"', run.stdout), run.stdout[-3000:]
    assert re.search(r'"ok":\s*true', run.stdout), run.stdout[-3000:]
