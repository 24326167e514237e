"""`scf keys`: the keystore's files are standard v3 keystores, in and out (issue 16, item 1)."""

from __future__ import annotations

import json
from pathlib import Path

from eth_account import Account
from typer.testing import CliRunner

from scf_chain.cli import app


def _env(tmp_path: Path, password: str = "pw") -> dict[str, str]:
    return {"SCF_KEYSTORE_PATH": str(tmp_path / "keys"), "SCF_KEYSTORE_PASSWORD": password,
            "SCF_KEYSTORE_SCRYPT_N": "1024"}


def _ok(tmp_path: Path, *args: str, password: str = "pw") -> str:
    result = CliRunner().invoke(app, ["keys", *args], env=_env(tmp_path, password))
    assert result.exit_code == 0, result.output
    return result.output


def test_new_list_address_and_export_give_a_key_other_tools_read(tmp_path: Path) -> None:
    address = _ok(tmp_path, "new", "operator").split(": ")[1].strip()
    participant = _ok(tmp_path, "new", "@alice").split(": ")[1].strip()
    assert (tmp_path / "keys" / "participants" / "alice.json").exists()
    assert _ok(tmp_path, "address", "operator").strip() == address
    listed = [line.split() for line in _ok(tmp_path, "list").splitlines()]
    assert listed == [["operator", address], ["@alice", participant]]
    exported = json.loads(_ok(tmp_path, "export", "operator"))
    assert exported["version"] == 3
    key = Account.decrypt(exported, "pw")
    assert Account.from_key(key).address == address
    out = tmp_path / "op.json"
    _ok(tmp_path, "export", "operator", "-o", str(out))
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    assert Account.decrypt(json.loads(out.read_text()), "pw") == key


def test_import_takes_a_key_made_by_eth_account(tmp_path: Path) -> None:
    acct = Account.create()
    foreign = tmp_path / "foreign.json"
    foreign.write_text(json.dumps(Account.encrypt(acct.key, "other", kdf="pbkdf2",
                                                  iterations=1000)))
    pw_file = tmp_path / "pw.txt"
    pw_file.write_text("other\n")
    # the file's own password is wrong for the keystore's: one line, nothing stored
    wrong = CliRunner().invoke(app, ["keys", "import", "keeper", str(foreign)],
                               env=_env(tmp_path))
    assert wrong.exit_code == 2 and "wrong password" in wrong.output
    assert "Traceback" not in wrong.output
    out = _ok(tmp_path, "import", "keeper", str(foreign), "--file-password-file", str(pw_file))
    assert acct.address in out
    # stored re-encrypted under the keystore's password, as a standard v3 file
    stored = json.loads((tmp_path / "keys" / "keeper.json").read_text())
    assert Account.decrypt(stored, "pw") == acct.key
    again = CliRunner().invoke(app, ["keys", "import", "keeper", str(foreign),
                                     "--file-password-file", str(pw_file)], env=_env(tmp_path))
    assert again.exit_code == 2 and "exists" in again.output


def test_retire_frees_the_name_and_keeps_the_old_key(tmp_path: Path) -> None:
    from scf_chain.keys import KeyStore

    old = _ok(tmp_path, "new", "keeper").split(": ")[1].strip()
    assert f"retired keeper ({old})" in _ok(tmp_path, "retire", "keeper")
    assert _ok(tmp_path, "list").strip() == ""
    missing = CliRunner().invoke(app, ["keys", "address", "keeper"], env=_env(tmp_path))
    assert missing.exit_code == 2 and "no key named 'keeper'" in missing.output
    new = _ok(tmp_path, "new", "keeper").split(": ")[1].strip()
    assert new != old
    store = KeyStore(tmp_path / "keys", "pw")
    assert [a.address for a in store.retired("keeper")] == [old]


def test_no_password_is_one_line(tmp_path: Path) -> None:
    env = {**_env(tmp_path), "SCF_KEYSTORE_PASSWORD": ""}
    result = CliRunner().invoke(app, ["keys", "new", "operator"], env=env)
    assert result.exit_code == 2 and "SCF_KEYSTORE_PASSWORD" in result.output
    assert not (tmp_path / "keys" / "operator.json").exists()
