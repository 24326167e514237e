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
    master_key_file: Path | None = Field(
        None, description="the documents' master key (default: <data_dir>/master.key); keep it "
                          "outside the data, keystore and document folders")
    allow_master_key_in_data_dir: bool = Field(
        False, description="let a production chain run with the master key beside the data")
    deployment_file: Path | None = None
    confirmations: int = Field(0, ge=0, description="blocks the indexer waits before ingesting")
    max_reorg_depth: int = Field(
        64, ge=0, description="deepest reorg (blocks) the indexer undoes; a deeper one stops it")
    receipt_timeout_s: float = Field(120.0, gt=0)
    idempotency_ttl_s: float = Field(
        86_400.0, gt=0, description="how long an Idempotency-Key's answer is kept (then purged)")

    # Gateway limits, applied before a request is parsed or authenticated (per process: several
    # gateway processes each keep their own rate buckets).
    max_body_bytes: int = Field(1 << 20, ge=1, description="largest request body (413 above)")
    max_document_body_bytes: int = Field(
        4 << 20, ge=1, description="largest body of a document upload or a proof bundle to verify")
    rate_limit_per_s: float = Field(
        50.0, ge=0, description="requests per second per API key (0: no rate limit)")
    rate_limit_burst: int = Field(100, ge=1, description="requests an API key may send at once")
    rate_limit_anonymous_per_s: float = Field(
        5.0, ge=0, description="per client IP: requests without a known API key and failed "
                               "authentications (0: no limit)")
    rate_limit_anonymous_burst: int = Field(20, ge=1)

    @property
    def manifest_path(self) -> Path:
        return self.deployment_file or self.data_dir / "deployment.json"

    @property
    def is_production_chain(self) -> bool:
        """A node we did not start and may not control (rpc without dev methods)."""
        return self.chain_backend == "rpc" and not self.rpc_dev_methods


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
