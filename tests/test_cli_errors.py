"""Every configuration, connection and input mistake a user can make at the CLI gets one
`error:` line on stderr and exit code 2, never a traceback (issue 16, item 4)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from scf_chain.chain.anvil import free_port
from scf_chain.evidence.proofs import Batch
from tests.evidence.factories import trade

ROOT = Path(__file__).resolve().parents[1]


def _run(args: list[str], tmp_path: Path, env: dict[str, str] | None = None,
         module: str = "scf_chain.cli") -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("SCF_")}
    base.update({"SCF_DATA_DIR": str(tmp_path / "var"), "SCF_KEYSTORE_PATH": str(tmp_path / "keys"),
                 "SCF_DATABASE_URL": f"sqlite:///{tmp_path}/s.db",
                 "SCF_KEYSTORE_SCRYPT_N": "1024", "PYTHONPATH": str(ROOT)})
    base.update(env or {})
    return subprocess.run([sys.executable, "-m", module, *args], cwd=tmp_path, env=base,
                          capture_output=True, text=True, timeout=120)


def _one_error_line(proc: subprocess.CompletedProcess[str]) -> str:
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out
    assert "Traceback" not in out, out
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), out
    return lines[0]


def test_a_bad_chain_backend_names_the_setting(tmp_path: Path) -> None:
    line = _one_error_line(_run(["index"], tmp_path, {"SCF_CHAIN_BACKEND": "hardhat"}))
    assert "SCF_CHAIN_BACKEND" in line and "'hardhat'" in line


def test_a_bad_number_setting_names_the_setting(tmp_path: Path) -> None:
    line = _one_error_line(_run(["audit", "trace", "1"], tmp_path,
                                {"SCF_RECEIPT_TIMEOUT_S": "soon"}))
    assert "SCF_RECEIPT_TIMEOUT_S" in line


def test_a_bad_database_url_names_the_setting(tmp_path: Path) -> None:
    line = _one_error_line(_run(["audit", "trace", "1"], tmp_path,
                                {"SCF_DATABASE_URL": "not a url"}))
    assert "SCF_DATABASE_URL" in line


def test_an_unreachable_postgresql_is_one_line(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/scf"
    line = _one_error_line(_run(["audit", "trace", "1"], tmp_path, {"SCF_DATABASE_URL": url}))
    assert "cannot reach the store at SCF_DATABASE_URL" in line


def test_an_unreachable_rpc_node_is_one_line(tmp_path: Path) -> None:
    env = {"SCF_CHAIN_BACKEND": "rpc", "SCF_RPC_URL": f"http://127.0.0.1:{free_port()}"}
    line = _one_error_line(_run(["deploy", "--dev-account", "0"], tmp_path, env))
    assert "127.0.0.1" in line


def test_the_verifier_with_an_unreachable_node_is_one_line(tmp_path: Path) -> None:
    from scf_chain.evidence.commit import SaltedDocument

    docs = [SaltedDocument.create(d) for d in trade("0x" + "11" * 20, "0x" + "22" * 20)]
    bundle = Batch.of(docs).bundle(0, 31337, "0x" + "33" * 20)
    path = tmp_path / "bundle.json"
    path.write_text(bundle.model_dump_json(), encoding="utf-8")
    offline = _run([str(path)], tmp_path, module="scf_chain.evidence.verify")
    assert offline.returncode == 0, offline.stdout + offline.stderr
    assert "VALID" in offline.stdout and "chain id: 31337" in offline.stdout
    assert f"root: {bundle.root}" in offline.stdout
    line = _one_error_line(_run([str(path), "--rpc-url", f"http://127.0.0.1:{free_port()}"],
                                tmp_path, module="scf_chain.evidence.verify"))
    assert "--rpc-url" in line
    path.write_text(json.dumps({"chain_id": 1}), encoding="utf-8")
    assert "not a proof bundle" in _one_error_line(
        _run([str(path)], tmp_path, module="scf_chain.evidence.verify"))


def test_a_master_key_file_of_the_wrong_size_says_the_format(tmp_path: Path) -> None:
    from scf_chain.errors import EvidenceError
    from scf_chain.evidence.store import MasterKey

    key = os.urandom(32)
    hex_file = tmp_path / "hex.key"
    hex_file.write_text(key.hex() + "\n")
    raw_file = tmp_path / "raw.key"
    raw_file.write_bytes(key)
    assert MasterKey.from_file(hex_file).key_id == MasterKey.from_file(raw_file).key_id
    short = tmp_path / "short.key"
    short.write_text("secret\n")
    with pytest.raises(EvidenceError, match="32 raw bytes .* or 64 hex characters"):
        MasterKey.from_file(short)


def test_serve_on_a_used_port_refuses_before_anything_else(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = _run(["serve", "--port", str(port)], tmp_path, {"SCF_KEYSTORE_PASSWORD": "pw"})
    line = _one_error_line(proc)
    assert f"127.0.0.1:{port}" in line and "--port" in line
    assert not (tmp_path / "var").exists()  # nothing deployed, nothing created


def test_chain_up_on_a_used_port_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        line = _one_error_line(_run(["chain", "up", "--port", str(port)], tmp_path))
    assert str(port) in line


def test_audit_flows_refuses_an_unknown_name(tmp_path: Path) -> None:
    line = _one_error_line(_run(["audit", "flows", "supa"], tmp_path))
    assert "'supa'" in line and "participant" in line


def test_migrations_log_nothing_by_default(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/m.db"
    quiet = _run(["db", "upgrade", "--url", url], tmp_path)
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stderr.strip() == "" and quiet.stdout.strip() == "database migrated to head"


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    proc = _run(["--debug", "index"], tmp_path, {"SCF_CHAIN_BACKEND": "hardhat"})
    assert proc.returncode != 0 and "Traceback" in proc.stderr


@pytest.mark.anvil
def test_a_production_chain_never_gets_service_keys_silently(anvil_chain, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    env = {"SCF_CHAIN_BACKEND": "rpc", "SCF_RPC_URL": anvil_chain.rpc_url,
           "SCF_KEYSTORE_PASSWORD": "pw", "SCF_DEPLOYMENT_FILE": str(tmp_path / "m.json"),
           "SCF_MASTER_KEY_FILE": str(tmp_path / "secrets" / "master.key"),
           "SCF_DATABASE_URL": f"sqlite:///{tmp_path}/db/s.db"}  # apart from the master key
    line = _one_error_line(_run(["deploy", "--key", "operator"], tmp_path, env))
    assert "`scf keys new operator`" in line and "`scf keys import operator" in line
    line = _one_error_line(_run(["serve", "--port", str(free_port())], tmp_path, env))
    assert "`scf keys new operator`" in line
    assert _run(["keys", "new", "operator"], tmp_path, env).returncode == 0
    unfunded = _run(["deploy", "--key", "operator"], tmp_path, env)
    assert "(no gas: fund this address)" in unfunded.stdout, unfunded.stdout
    assert "keeper: no key yet (`scf keys new keeper`" in unfunded.stdout
    _one_error_line(unfunded)
    line = _one_error_line(_run(["serve", "--port", str(free_port())], tmp_path, env))
    assert "no key 'keeper'" in line and "`scf keys new keeper`" in line
    assert sorted(p.name for p in (tmp_path / "keys").glob("*.json")) == ["operator.json"]


@pytest.mark.anvil
def test_a_keeper_pass_prints_no_migration_logs(anvil_chain, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    env = {"SCF_CHAIN_BACKEND": "rpc", "SCF_RPC_URL": anvil_chain.rpc_url,
           "SCF_DEPLOYMENT_FILE": str(tmp_path / "m.json")}
    deployed = _run(["deploy", "--dev-token", "--dev-account", "0", "--fresh"], tmp_path, env)
    assert deployed.returncode == 0, deployed.stderr
    assert "deployer: 0x" in deployed.stdout and " ETH" in deployed.stdout
    quiet = _run(["keeper", "--once", "--dev-account", "4"], tmp_path, env)
    assert quiet.returncode == 0, quiet.stderr
    assert "alembic" not in quiet.stderr and "Running upgrade" not in quiet.stderr, quiet.stderr
    loud = _run(["--verbose", "keeper", "--once", "--dev-account", "4"], tmp_path,
                {**env, "SCF_DATABASE_URL": f"sqlite:///{tmp_path}/fresh.db"})
    assert loud.returncode == 0 and "Running upgrade" in loud.stderr, loud.stderr


def test_chain_up_keep_states_is_anvils_and_at_least_one(tmp_path: Path) -> None:
    line = _one_error_line(_run(["chain", "up", "--backend", "ganache", "--keep-states", "8"],
                                tmp_path))
    assert "--keep-states" in line and "anvil" in line
    proc = _run(["chain", "up", "--keep-states", "0"], tmp_path)
    assert proc.returncode == 2 and "--keep-states" in proc.stderr and "Traceback" not in proc.stderr
