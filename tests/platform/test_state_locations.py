"""Where each piece of state lives (README "Where state lives"): SCF_DATA_DIR holds it all."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from scf_chain.config import Settings
from scf_chain.errors import ConfigError
from scf_chain.platform.core import Platform


def test_every_state_setting_defaults_inside_the_data_dir(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path / "d")
    assert s.database_url == f"sqlite:///{tmp_path}/d/scf.db"
    assert (s.keystore_path, s.document_store_path) == (tmp_path / "d" / "keys",
                                                        tmp_path / "d" / "documents")
    assert (s.manifest_path, s.master_key_path) == (tmp_path / "d" / "deployment.json",
                                                    tmp_path / "d" / "master.key")
    assert Settings().database_url == "sqlite:///./var/scf.db"
    # each may still be set apart
    apart = Settings(data_dir=tmp_path / "d", keystore_path=tmp_path / "k")
    assert apart.keystore_path == tmp_path / "k"


def test_an_embedded_chain_with_a_data_dir_keeps_all_its_state_there(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    data = tmp_path / "var"
    settings = Settings(chain_backend="embedded", data_dir=data, keystore_password="pw",
                        keystore_scrypt_n=2**10)
    with caplog.at_level(logging.INFO, logger="scf_chain.platform"):
        platform = Platform.open(settings)
    try:
        s = platform.settings
        for path in (s.keystore_path, s.document_store_path, s.manifest_path, s.master_key_path):
            assert path.is_relative_to(data), path
        assert s.database_url == f"sqlite:///{data}/scf.db"
        assert platform.keys.names() and (data / "keys").is_dir()
        created = [r.getMessage() for r in caplog.records if "master key" in r.getMessage()]
        assert created == [f"created the documents' master key {data / 'master.key'} "
                           "(SCF_MASTER_KEY_FILE), as on every dev chain without one"]
    finally:
        platform.close()
    # kept after exit, for inspection
    for name in ("scf.db", "deployment.json", "master.key", "keys"):
        assert (data / name).exists(), name
    # a new embedded chain cannot use the old chain's store and keys: refused, nothing changed
    before = sorted(p.name for p in data.iterdir())
    with pytest.raises(ConfigError, match="earlier embedded chain"):
        Platform.open(settings)
    assert sorted(p.name for p in data.iterdir()) == before


def test_an_embedded_chain_without_a_data_dir_leaves_nothing_behind(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SCF_DATA_DIR", raising=False)
    platform = Platform.open(Settings(chain_backend="embedded"))
    folder = platform.settings.data_dir
    try:
        assert folder.name.startswith("scf-embedded-") and not folder.is_relative_to(tmp_path)
        assert platform.settings.master_key_path.is_relative_to(folder)
        assert platform.settings.keystore_path.is_relative_to(folder)
    finally:
        platform.close()
    assert not folder.exists() and list(tmp_path.iterdir()) == []


def test_a_production_chain_never_makes_the_master_key(tmp_path: Path) -> None:
    settings = Settings(chain_backend="rpc", rpc_url="http://127.0.0.1:9", data_dir=tmp_path / "v",
                        master_key_file=tmp_path / "secrets" / "master.key", keystore_password="pw")
    with pytest.raises(ConfigError, match=r"does not exist: create it once with `scf keys "
                                          r"master-key .*master.key`"):
        Platform.open(settings)
    assert not (tmp_path / "secrets").exists() and not (tmp_path / "v").exists()
