"""What the platform writes is private from its first byte (0600 files, 0700 folders), the master
key is kept apart from the data on a production chain, and one gateway holds a data folder."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scf_chain.chain.embedded import EmbeddedChain
from scf_chain.config import Settings
from scf_chain.errors import ConfigError, DataDirLocked
from scf_chain.files import DataDirLock, private_dir, write_private

ROOT = Path(__file__).resolve().parents[1]
# public addresses, not a secret: it keeps the default mode, inside the 0700 data folder
PUBLIC = {"deployment.json"}


@pytest.fixture()
def umask_022() -> Iterator[None]:
    """The usual umask: a file created without an explicit mode would be 0644."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _mode(p: Path) -> int:
    return stat.S_IMODE(os.lstat(p).st_mode)


def _loose(root: Path) -> list[str]:
    """Everything under (and including) `root` readable beyond its owner, as 'path mode'."""
    out = []
    for p in [root, *root.rglob("*")]:
        want = 0o700 if p.is_dir() else 0o600
        if p.name in PUBLIC:
            continue
        if _mode(p) != want:
            out.append(f"{p.relative_to(root.parent)} {oct(_mode(p))}")
    return out


def test_a_fresh_platform_creates_every_file_and_folder_private(
        tmp_path: Path, embedded_chain: EmbeddedChain, umask_022: None) -> None:
    from scf_chain.platform.core import Platform

    data = tmp_path / "srv" / "scf"  # missing parents are made 0700 too
    settings = Settings(data_dir=data, database_url=f"sqlite:///{data}/scf.db",
                        keystore_path=data / "keys", document_store_path=data / "documents",
                        deployment_file=data / "deployment.json", keystore_password="pw",
                        keystore_scrypt_n=2**10)
    platform = Platform.open(settings, chain=embedded_chain, exclusive=True)
    try:
        platform.documents.put("po-1", b"purchase order", owner="operator")
        platform.keys.create("spare")
        names = {p.name for p in data.rglob("*")}
        # the store in WAL mode while connections are open, the keystore, the documents, the
        # master key and the lock: all there, all private
        assert {"scf.db", "scf.db-wal", "scf.db-shm", "keys", "operator.json", "spare.json",
                "documents", "po-1.bin", "po-1.json", "master.key", "gateway.lock"} <= names
        assert _loose(data) == []
        assert _mode(tmp_path / "srv") == 0o700
    finally:
        platform.close()


def test_an_existing_store_and_folders_made_before_are_tightened(
        tmp_path: Path, umask_022: None) -> None:
    from scf_chain import db

    data = tmp_path / "var"
    data.mkdir(mode=0o755)
    (data / "old.db").touch(mode=0o644)
    (data / "old.db-wal").touch(mode=0o644)
    db.make_engine(f"sqlite:///{data}/old.db").dispose()
    assert _mode(data / "old.db") == _mode(data / "old.db-wal") == 0o600
    private_dir(data)
    assert _mode(data) == 0o700


def test_a_secret_is_never_on_disk_with_another_mode_nor_half_written(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every file write_private creates is opened O_CREAT|O_EXCL with mode 0600, even under
    umask 0, and appears under its name only whole (a link to the finished file)."""
    opened: list[tuple[str, int, int]] = []
    real_open = os.open

    def spy(path: Any, flags: int, mode: int = 0o777, **kw: Any) -> int:
        opened.append((str(path), flags, mode))
        return real_open(path, flags, mode, **kw)

    monkeypatch.setattr(os, "open", spy)
    linked: list[int] = []
    real_link = os.link

    def link(src: Any, dst: Any, **kw: Any) -> None:
        linked.append(len(Path(src).read_bytes()))
        real_link(src, dst, **kw)

    monkeypatch.setattr(os, "link", link)
    old = os.umask(0)
    try:
        write_private(tmp_path / "operator.api-key", b"scf_secret\n")
    finally:
        os.umask(old)
    assert opened and all(f & os.O_CREAT and f & os.O_EXCL and m == 0o600 for _, f, m in opened)
    assert linked == [len(b"scf_secret\n")]
    assert _mode(tmp_path / "operator.api-key") == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["operator.api-key"]  # no temporary left
    with pytest.raises(FileExistsError):  # never overwritten
        write_private(tmp_path / "operator.api-key", b"other")
    assert (tmp_path / "operator.api-key").read_bytes() == b"scf_secret\n"


def test_serve_writes_the_operator_key_with_write_private() -> None:
    """The serve command writes its key file through the O_EXCL/0600 path (no write-then-chmod)."""
    import inspect

    from scf_chain import cli

    # serve (one process or each of `--workers N`) writes it in _announce
    assert "_announce(" in inspect.getsource(cli.serve) + inspect.getsource(cli._supervise)
    source = inspect.getsource(cli._announce)
    assert "write_private(key_file" in source and "chmod" not in source


# -- where the master key may live ----------------------------------------------------------------
def _prod(tmp_path: Path, **kw: Any) -> Settings:
    data = tmp_path / "var"
    base: dict[str, Any] = dict(chain_backend="rpc", rpc_url="http://127.0.0.1:9", data_dir=data,
                                database_url=f"sqlite:///{data}/scf.db",
                                keystore_path=data / "keys", document_store_path=data / "docs")
    return Settings(**{**base, **kw})


def test_a_production_chain_refuses_a_master_key_kept_with_the_data(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"master key .*master.key is inside the data folder"):
        _prod(tmp_path).check_master_key_placement()  # the default: <data_dir>/master.key
    for inside in (tmp_path / "var" / "docs" / "k", tmp_path / "keys" / "k"):
        with pytest.raises(ConfigError, match="SCF_ALLOW_MASTER_KEY_IN_DATA_DIR"):
            _prod(tmp_path, master_key_file=inside,
                  keystore_path=tmp_path / "keys").check_master_key_placement()
    # beside a SQLite store kept elsewhere
    with pytest.raises(ConfigError, match="folder of the SQLite store"):
        _prod(tmp_path, database_url=f"sqlite:///{tmp_path}/db/scf.db",
              master_key_file=tmp_path / "db" / "master.key").check_master_key_placement()
    # apart from all of them (a secrets mount), allowed explicitly, or a dev chain: accepted
    _prod(tmp_path, master_key_file=tmp_path / "secrets" / "master.key").check_master_key_placement()
    _prod(tmp_path, allow_master_key_in_data_dir=True).check_master_key_placement()
    _prod(tmp_path, rpc_dev_methods=True).check_master_key_placement()
    Settings(chain_backend="embedded", data_dir=tmp_path).check_master_key_placement()
    # a link in the data folder to a key held elsewhere is where the key really lives
    (tmp_path / "secrets").mkdir()
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "master.key").symlink_to(tmp_path / "secrets" / "master.key")
    _prod(tmp_path).check_master_key_placement()


def test_the_platform_refuses_before_connecting_to_the_chain(tmp_path: Path) -> None:
    """rpc_url points nowhere: the refusal comes first, and nothing is created."""
    from scf_chain.platform.core import Platform

    with pytest.raises(ConfigError, match="master key"):
        Platform.open(_prod(tmp_path, keystore_password="pw"))
    assert not (tmp_path / "var").exists()


def test_scf_serve_refuses_a_master_key_in_the_data_dir_in_one_line(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from scf_chain.cli import app

    env = {"SCF_CHAIN_BACKEND": "rpc", "SCF_RPC_URL": "http://127.0.0.1:9",
           "SCF_DATA_DIR": str(tmp_path / "var"), "SCF_KEYSTORE_PASSWORD": "pw"}
    result = CliRunner().invoke(app, ["serve"], env=env)
    assert result.exit_code == 2
    assert result.output.startswith("error: the documents' master key")
    assert "Traceback" not in result.output
    allowed = CliRunner().invoke(app, ["serve"], env={**env,
                                                       "SCF_ALLOW_MASTER_KEY_IN_DATA_DIR": "true"})
    # got past the rule (to the next check: no service keys are made on a production chain)
    assert allowed.exit_code == 2 and "no key 'operator'" in allowed.output


# -- the lock --------------------------------------------------------------------------------------
def test_the_lock_refuses_a_second_holder_names_the_first_and_is_freed(tmp_path: Path) -> None:
    data, keys = tmp_path / "var", tmp_path / "keys"
    first = DataDirLock([data, keys])
    assert first.held and _mode(data / "gateway.lock") == 0o600
    with pytest.raises(DataDirLocked, match=rf"pid {os.getpid()}\) is running on {data}"):
        DataDirLock([data])
    # another data folder on the same keystore is refused too (nonces are per account)
    with pytest.raises(DataDirLocked, match=str(keys)):
        DataDirLock([tmp_path / "other", keys])
    first.release()
    again = DataDirLock([data, keys])
    again.release()


def test_a_killed_holder_leaves_no_stale_lock(tmp_path: Path) -> None:
    script = textwrap.dedent(f"""
        import os, signal, sys
        from scf_chain.files import DataDirLock
        lock = DataDirLock([{str(tmp_path)!r}])
        print("held", flush=True)
        sys.stdin.readline()
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        with pytest.raises(DataDirLocked, match=f"pid {proc.pid}"):
            DataDirLock([tmp_path])
        proc.kill()
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    DataDirLock([tmp_path]).release()  # the kernel dropped the dead holder's lock


def test_a_master_key_that_cannot_be_created_is_a_config_error(
        tmp_path: Path, embedded_chain: EmbeddedChain) -> None:
    """A read-only secrets mount without the key: one clear error, no traceback from os."""
    from scf_chain.platform.core import Platform

    mount = tmp_path / "secrets"
    mount.mkdir(mode=0o500)
    if os.access(mount, os.W_OK):  # root writes anywhere: make the mount a file's child instead
        mount.rmdir()
        mount.write_text("not a folder")
    settings = Settings(data_dir=tmp_path / "var", master_key_file=mount / "master.key",
                        keystore_password="pw", keystore_scrypt_n=2**10)
    with pytest.raises(ConfigError, match=r"cannot read or create the documents' master key"):
        Platform.open(settings, chain=embedded_chain)
