"""The one settings object: chain backend, RPC URL, database, keystore and data paths (SCF_ env)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Read from environment variables with the SCF_ prefix (and an optional .env file)."""

    model_config = SettingsConfigDict(env_prefix="SCF_", env_file=".env", extra="ignore")

    chain_backend: Literal["embedded", "anvil", "rpc"] = "embedded"
    rpc_url: str | None = None
    rpc_dev_methods: bool = Field(False, description="allow evm_* time control on the rpc backend")
    anvil_host: str = "127.0.0.1"
    anvil_port: int | None = None
    database_url: str = "sqlite:///./var/scf.db"
    data_dir: Path = Path("./var")
    keystore_path: Path = Path("./var/keys")
    keystore_password: str | None = Field(None, repr=False)
    keystore_scrypt_n: int = Field(2**18, ge=2**10, description="scrypt cost of new key files")
    document_store_path: Path = Path("./var/documents")
    master_key_file: Path | None = None
    deployment_file: Path | None = None
    confirmations: int = Field(0, ge=0, description="blocks the indexer waits before ingesting")
    receipt_timeout_s: float = Field(120.0, gt=0)

    @property
    def manifest_path(self) -> Path:
        return self.deployment_file or self.data_dir / "deployment.json"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
