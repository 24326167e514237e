"""The one settings object: chain backend, RPC URL, database, keystore and data paths (SCF_ env)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def _posix(path: Path) -> str:
    """`path` as written in a SQLite URL: ./var stays ./var (a relative path keeps its ./)."""
    text = path.as_posix()
    return text if path.is_absolute() or text.startswith(".") else f"./{text}"


class Settings(BaseSettings):
    """Read from environment variables with the SCF_ prefix (and an optional .env file)."""

    model_config = SettingsConfigDict(env_prefix="SCF_", env_file=".env", extra="ignore")

    chain_backend: Literal["embedded", "anvil", "ganache", "rpc"] = "embedded"
    rpc_url: str | None = None
    rpc_dev_methods: bool = Field(False, description="allow evm_* time control on the rpc backend")
    anvil_host: str = Field("127.0.0.1", description="host of a node the backend starts "
                                                      "(anvil or ganache)")
    anvil_port: int | None = Field(None, description="its port (default: a free one)")
    anvil_keep_states: int | None = Field(
        None, ge=1, description="states of recent blocks a started anvil keeps (--prune-history);"
                                " default: all, older ones written to disk")
    evm_version: Literal["auto", "cancun", "paris"] = Field(
        "auto", description="contract build to deploy; auto: the newest the node runs (probed)")
    # Every piece of state defaults to a place inside the data folder, so one SCF_DATA_DIR moves
    # all of it (README "Where state lives"); each can be set apart.
    data_dir: Path = Path("./var")
    database_url: str = Field(default_factory=lambda d: f"sqlite:///{_posix(d['data_dir'])}/scf.db")
    keystore_path: Path = Field(default_factory=lambda d: d["data_dir"] / "keys")
    keystore_password: str | None = Field(None, repr=False)
    keystore_scrypt_n: int = Field(2**18, ge=2**10, description="scrypt cost of new key files")
    document_store_path: Path = Field(default_factory=lambda d: d["data_dir"] / "documents")
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
    db_pool_size: int = Field(
        50, ge=1, le=1000, description="store connections a process opens as it needs them and "
        "keeps open (then requests wait for one): size PostgreSQL's max_connections above "
        "processes × (SCF_DB_POOL_SIZE + SCF_DB_MAX_OVERFLOW) + 2")
    db_max_overflow: int = Field(
        0, ge=0, le=1000, description="connections a process may open beyond SCF_DB_POOL_SIZE "
        "under load, each closed again as soon as it is given back: under a burst that costs "
        "PostgreSQL a backend start per request, more CPU than the request's own queries")
    request_threads: int = Field(
        256, ge=1, le=4096, description="requests a gateway process works on at once: each "
        "write waits in a thread until its transaction is mined, so under a block time of T "
        "seconds one process answers at most about this many / T writes a second")
    auth_cache_s: float = Field(
        2.0, ge=0, le=60, description="how long a process remembers an API key it "
        "authenticated (0: ask the store on every request); a key revoked, or a participant's "
        "roles changed, through another gateway process takes effect here within this long "
        "(at once in the process that made the change)")
    policy_cache_s: float = Field(
        2.0, ge=0, le=60, description="how long a process remembers the risk policy in force "
        "(0: read it from the store at every gate); a policy changed through another gateway "
        "process applies here within this long (at once in the process that changed it)")
    custody_prepared_ttl_s: float = Field(
        600.0, gt=0, description="how long a transaction prepared for a participant that signs "
                                 "itself may be submitted")

    # Gateway limits, applied before a request is parsed or authenticated (per process: several
    # gateway processes each keep their own rate buckets).
    max_body_bytes: int = Field(1 << 20, ge=1, description="largest request body (larger ones are refused unread)")
    max_document_body_bytes: int = Field(
        4 << 20, ge=1, description="largest body of a document upload or a proof bundle to verify")
    rate_limit_per_s: float = Field(
        50.0, ge=0, description="requests per second per API key (0: no rate limit)")
    rate_limit_burst: int = Field(100, ge=1, description="requests an API key may send at once")
    rate_limit_anonymous_per_s: float = Field(
        5.0, ge=0, description="per client IP: requests without a known API key and failed "
                               "authentications (0: no limit)")
    rate_limit_anonymous_burst: int = Field(20, ge=1)

    # Operations (scf_chain.obs; README "Operations")
    log_format: Literal["auto", "json", "text"] = Field(
        "auto", description="json: one JSON object per log line; auto: json unless stderr is a "
                            "terminal")
    ready_max_indexer_lag: int = Field(
        20, ge=0, description="GET /readyz fails while the indexer is more blocks behind the "
                              "chain head than this (beyond SCF_CONFIRMATIONS)")

    # Risk control (scf_chain.risk; docs/risk.md)
    risk_model_file: Path | None = Field(
        None, description="a scorecard model file (scf risk train); without one, the trade "
                          "scorecards shipped in the package score (see risk_default_model)")
    risk_default_model: bool = Field(
        True, description="without SCF_RISK_MODEL_FILE, score with the trade scorecards shipped "
                          "in the package (trained on a simulated market); false: no scores")
    risk_rate_ceiling: float = Field(
        0.12, gt=0, description="implied annual financing rate above which the trace flags a "
                                "financing and above_market_rate raises an alert (0.12: 4 x the one-year LPR of 3.0 %)")

    @property
    def manifest_path(self) -> Path:
        return self.deployment_file or self.data_dir / "deployment.json"

    @property
    def is_production_chain(self) -> bool:
        """A node we did not start and may not control (rpc without dev methods)."""
        return self.chain_backend == "rpc" and not self.rpc_dev_methods

    @property
    def master_key_path(self) -> Path:
        return self.master_key_file or self.data_dir / "master.key"

    def check_master_key_placement(self) -> None:
        """On a production chain, refuse a master key kept with the data it protects.

        Documents are encrypted so that a copy of the data (a backup, a leaked volume) does not
        disclose them: a key in the data, keystore or document folder, or beside a SQLite
        store, travels with that copy. ConfigError unless allow_master_key_in_data_dir.
        """
        if not self.is_production_chain or self.allow_master_key_in_data_dir:
            return
        from scf_chain.db import sqlite_file
        from scf_chain.errors import ConfigError

        key = self.master_key_path.resolve()
        store = sqlite_file(self.database_url)
        folders = {"data folder (SCF_DATA_DIR)": self.data_dir,
                   "keystore (SCF_KEYSTORE_PATH)": self.keystore_path,
                   "document folder (SCF_DOCUMENT_STORE_PATH)": self.document_store_path}
        if store is not None:
            folders["folder of the SQLite store (SCF_DATABASE_URL)"] = store.parent
        for what, folder in folders.items():
            if key.is_relative_to(folder.resolve()):
                raise ConfigError(
                    f"the documents' master key {self.master_key_path} is inside the {what} "
                    f"{folder}: a copy of that folder would hold the encrypted documents and the "
                    "key that opens them. Keep it apart, e.g. SCF_MASTER_KEY_FILE=/run/secrets/"
                    "scf-master.key (a secrets mount readable by this service only), or accept "
                    "the risk with SCF_ALLOW_MASTER_KEY_IN_DATA_DIR=true")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
