"""Every command README.md documents in its shell blocks is run here in its quickest form, so none can rot.

Each documented command (the text of a shell-block line, comments stripped) is classified:
`run` (run as documented, placeholders filled), `quick` (run with a quick flag), or `long`
(long-running, a server or a whole suite: an allow-list with the reason, and its `--help` or a
syntax check is run instead, with the test that runs it for real named). A command README gains
that is in none of these fails the test, and so does a classified one README no longer shows.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account import Account
from typer.testing import CliRunner

from scf_chain.chain.anvil import ANVIL_MNEMONIC, AnvilChain, anvil_dev_accounts, free_port
from scf_chain.cli import app

ROOT = Path(__file__).resolve().parents[1]
PY = ".venv/bin/python"

# documented command -> (how, reason: for `long` ones, why not run and which test runs it)
CLASSIFIED: dict[str, tuple[str, str]] = {
    "bash scripts/demo.sh": ("long", "set-up and the whole story (minutes): tests/test_demo.py "
                                     "plays the story; here `bash -n`"),
    "bash scripts/test.sh": ("long", "every test: it is how this test itself runs; here `bash -n`"),
    ".venv/bin/scf serve": ("long", "a server running until stopped: "
                                    "tests/test_cli.py::test_serve_runs_the_gateway_on_a_node_it_"
                                    "starts starts it; here `--help`"),
    ".venv/bin/scf keys new NAME | import NAME FILE.json | list | address NAME | export NAME | "
    "retire NAME": ("run", ""),
    ".venv/bin/scf deploy --dev-token --dev-account 0": ("run", ""),
    ".venv/bin/scf keeper [--once] --key keeper [--keeper-id ID --lease 120]": ("quick", "--once"),
    ".venv/bin/scf index [--follow]": ("run", ""),
    ".venv/bin/scf audit trace SLOT | flows NAME|ADDRESS --format csv | reconcile": ("run", ""),
    ".venv/bin/python -m scf_chain.evidence.verify bundle.json --rpc-url URL": (
        "long", "needs an anchored document's proof bundle: tests/evidence/test_evidence.py runs "
                "the verifier on one; here `--help`"),
    ".venv/bin/scf build-contracts [--check]": (
        "long", "compiles every contract with solc in WebAssembly (about a minute): "
                "tests/contracts/test_build.py compares a fresh compile; here `--help`"),
    ".venv/bin/scf chain up --backend anvil": ("run", "stopped by `scf chain down`"),
    ".venv/bin/scf chain down [--port PORT]": ("run", ""),
    ".venv/bin/scf keys master-key /run/secrets/scf-master.key": ("run", "into a temporary "
                                                                          "folder"),
    ".venv/bin/scf db upgrade": ("run", ""),
    ".venv/bin/python scripts/bench_gas.py": ("long", "a benchmark: tests/test_scripts_help.py "
                                                      "checks its options; here `--help`"),
    ".venv/bin/python scripts/bench_evidence.py": ("long", "a benchmark (minutes); here `--help`"),
    ".venv/bin/python scripts/bench_api.py": ("long", "a benchmark (minutes); here `--help`"),
    ".venv/bin/python scripts/bench_workers.py": (
        "long", "a benchmark (minutes): tests/api/test_workers.py is the same check at 96 "
                "requests; here `--help`"),
    ".venv/bin/python scripts/run_slither.py": (
        "long", "slither over every contract: tests/contracts run it gated on the triage "
                "file; here `--help`"),
    ".venv/bin/scf risk evaluate --german-credit": (
        "long", "25 scorecard fits (minutes on a loaded machine): tests/risk evaluate the "
                "method; here `--help`"),
    ".venv/bin/scf risk alerts [--status open]": ("run", ""),
    ".venv/bin/python scripts/bench_risk.py": ("long", "a benchmark (minutes); here `--help`"),
    "SCF_STATEFUL_EXAMPLES=400 .venv/bin/python -m pytest tests/contracts/test_stateful.py -p "
    "no:xdist": ("long", "several minutes of fuzzing (CI runs the default length): here "
                         "`--collect-only` with the same flags"),
}


def documented_commands(readme: str) -> list[str]:
    """The command lines of README's bash/sh blocks, comments stripped, spaces collapsed."""
    commands: list[str] = []
    for block in re.findall(r"^```(?:bash|sh|shell|console)\n(.*?)^```", readme, re.M | re.S):
        for line in block.splitlines():
            text = re.sub(r"(^|\s)#(\s.*)?$", "", line).strip()
            if text:
                commands.append(" ".join(text.split()))
    return commands


def test_every_documented_command_is_classified_and_every_classified_one_documented() -> None:
    documented = documented_commands((ROOT / "README.md").read_text(encoding="utf-8"))
    assert len(documented) == len(set(documented)), "a command is documented twice"
    unknown = [c for c in documented if c not in CLASSIFIED]
    assert unknown == [], ("README documents commands this test neither runs nor lists: "
                           f"add each to CLASSIFIED (and run it below): {unknown}")
    stale = sorted(set(CLASSIFIED) - set(documented))
    assert stale == [], f"classified commands README no longer shows: {stale}"
    for command, (how, reason) in CLASSIFIED.items():
        assert how in ("run", "quick", "long"), command
        assert how == "run" or reason, f"{command}: a quick flag or a reason is needed"


def test_the_parser_strips_comments_and_keeps_pipes() -> None:
    text = ("```bash\n.venv/bin/scf a | b   # what it does\n    # more words\n\n"
            "X=1 .venv/bin/python -m p  # c\n```\n```python\nnot_a_command()\n```\n")
    assert documented_commands(text) == [".venv/bin/scf a | b", "X=1 .venv/bin/python -m p"]


# -- running them ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def node() -> Iterator[AnvilChain]:
    chain = AnvilChain()
    yield chain
    chain.close()


class Cli:
    """`scf …` in this process (the same app the script runs), with one environment."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env, self.ran = env, []  # type: tuple[dict[str, str], list[str]]

    def __call__(self, *args: str, code: int = 0, out: str = "") -> str:
        result = CliRunner().invoke(app, list(args), env=self.env)
        text = result.output
        assert result.exit_code == code, f"scf {' '.join(args)} -> {result.exit_code}\n{text}"
        assert re.search(out, text), f"scf {' '.join(args)}: {out!r} not in\n{text}"
        self.ran.append(" ".join(args))
        return text


def _run(argv: list[str], env: dict[str, str] | None = None, timeout: float = 180) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})
    assert done.returncode == 0, f"{argv}\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.mark.anvil
def test_the_documented_commands_run(tmp_path: Path, node: AnvilChain) -> None:
    data = tmp_path / "var"
    scf = Cli({"SCF_CHAIN_BACKEND": "rpc", "SCF_RPC_URL": node.rpc_url,
               "SCF_RPC_DEV_METHODS": "true", "SCF_DATA_DIR": str(data),
               "SCF_KEYSTORE_PASSWORD": "pw", "SCF_KEYSTORE_SCRYPT_N": "1024",
               "SCF_MASTER_KEY_FILE": str(tmp_path / "secrets" / "master.key")})
    dev = anvil_dev_accounts(4)
    assert ANVIL_MNEMONIC.startswith("test")

    # scf keys new NAME | import NAME FILE.json | list | address NAME | export NAME | retire NAME
    made = scf("keys", "new", "spare", out=r"^spare: 0x[0-9a-fA-F]{40}")
    address = made.split()[-1]
    keeper_file = tmp_path / "keeper.json"
    keeper_file.write_text(json.dumps(Account.encrypt(dev[3].key, "pw", iterations=1024)))
    scf("keys", "import", "keeper", str(keeper_file), out=dev[3].address)
    listed = scf("keys", "list")
    assert "spare" in listed and "keeper" in listed
    assert scf("keys", "address", "spare").strip() == address
    exported = json.loads(scf("keys", "export", "spare"))
    assert exported["address"].lower() == address[2:].lower()
    scf("keys", "retire", "spare", out=r"retired spare")

    # scf keys master-key PATH
    scf("keys", "master-key", str(tmp_path / "secrets" / "master.key"), out="created the master key")
    # scf deploy --dev-token --dev-account 0
    scf("deploy", "--dev-token", "--dev-account", "0", out=r"deployed .*deployment.json")
    # scf db upgrade
    scf("db", "upgrade", out="database migrated to head")
    # scf index [--follow]
    scf("index", out=r"indexed \d+ events|nothing new to index")
    # scf keeper [--once] --key keeper
    scf("keeper", "--once", "--key", "keeper", out=r"collected 0, paid out 0")
    # scf audit trace SLOT | flows NAME|ADDRESS --format csv | reconcile
    scf("audit", "trace", "1", code=2, out=r"^error: no receivable with slot 1 in the store")
    flows = scf("audit", "flows", dev[0].address, "--format", "csv")
    assert flows.splitlines()[0].startswith("block_number") or "," in flows.splitlines()[0]
    scf("audit", "reconcile", out=r": 0 differences")
    # scf risk alerts [--status open]
    scf("risk", "alerts", "--status", "open")

    # scf chain up --backend anvil (stopped with scf chain down)
    port = free_port()
    up = subprocess.Popen([sys.executable, "-m", "scf_chain.cli", "chain", "up", "--backend",
                           "anvil", "--port", str(port)], cwd=tmp_path, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT), "SCF_DATA_DIR": str(data)},
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        record = data / f"chain-{port}.json"
        deadline = time.monotonic() + 120
        while not record.exists():
            assert up.poll() is None and time.monotonic() < deadline, up.communicate()[0]
            time.sleep(0.2)
        scf("chain", "down", "--port", str(port), out=f"port {port}: stopped")
        printed = up.communicate(timeout=60)[0]
        assert f"RPC URL: http://127.0.0.1:{port}" in printed and "stopped" in printed
    finally:
        if up.poll() is None:
            up.kill()
            up.wait()


def test_the_long_documented_commands_answer_help_or_parse(tmp_path: Path) -> None:
    for script in ("demo.sh", "test.sh"):
        _run(["bash", "-n", str(ROOT / "scripts" / script)])
    scf = Cli({})
    for args in (["serve"], ["build-contracts"], ["risk", "evaluate"]):
        scf(*args, "--help", out=r"Usage: ")
    for argv in (["-m", "scf_chain.evidence.verify"], ["scripts/run_slither.py"]):
        assert "usage:" in _run([sys.executable, *argv, "--help"]).lower()
    # the bench scripts' --help: tests/test_scripts_help.py (each option explained)
    collected = _run([sys.executable, "-m", "pytest", "tests/contracts/test_stateful.py",
                      "-p", "no:xdist", "--collect-only", "-q"],
                     env={"SCF_STATEFUL_EXAMPLES": "400"})
    assert "test_stateful.py::" in collected
