"""The anvil chain: a native local node started as a subprocess on a free loopback port."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from eth_account.signers.local import LocalAccount

from scf_chain.chain.localnode import (
    DEV_ACCOUNT_COUNT,
    DEV_MNEMONIC,
    LocalNodeChain,
    free_port,
    mnemonic_accounts,
    port_is_free,
)
from scf_chain.errors import ChainError, ConfigError

ANVIL_MNEMONIC = DEV_MNEMONIC
ANVIL_CHAIN_ID = 31337

__all__ = ["ANVIL_CHAIN_ID", "ANVIL_MNEMONIC", "DEV_ACCOUNT_COUNT", "AnvilChain",
           "anvil_dev_accounts", "find_anvil_binary", "free_port", "port_is_free"]


def find_anvil_binary() -> Path:
    """The anvil binary: $SCF_ANVIL_BIN, the project's node_modules, or PATH."""
    env = os.environ.get("SCF_ANVIL_BIN")
    if env:
        return Path(env)
    here = Path(__file__).resolve()
    for parent in here.parents:
        cand = parent / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"
        if cand.exists():
            return cand
    found = shutil.which("anvil")
    if found:
        return Path(found)
    raise ChainError(
        "anvil not found: run `npm ci` in the project root (it installs "
        "@foundry-rs/anvil-linux-amd64) or set SCF_ANVIL_BIN"
    )


def anvil_dev_accounts(count: int = DEV_ACCOUNT_COUNT) -> list[LocalAccount]:
    return mnemonic_accounts(count)


class AnvilChain(LocalNodeChain):
    """anvil on `hardfork` ("cancun" by default; "paris" or "shanghai" for a pre-Cancun chain)."""

    name = "anvil"

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int | None = None,
        account_count: int = DEV_ACCOUNT_COUNT,
        chain_id: int = ANVIL_CHAIN_ID,
        block_time: int | None = None,
        extra_args: list[str] | None = None,
        hardfork: str = "cancun",
        keep_states: int | None = None,
    ) -> None:
        if keep_states is not None and keep_states < 1:
            raise ConfigError(f"keep_states must be at least 1 (got {keep_states})")
        self._anvil_chain_id = chain_id
        # anvil keeps every block's state by default, moving old ones from memory to its cache
        # folder: with a block per transaction and a market's worth of storage, that was most of
        # its CPU (a pre-signed split cost it 7.3 CPU ms, 1.1-3.3 ms without; reports/
        # bench_api.md). `keep_states` keeps that many recent
        # states in memory and no older ones (`--prune-history`), as a pruning node does: a
        # read at an older block is refused.
        self.keep_states = keep_states
        self._block_time = block_time
        self._extra_args = list(extra_args or [])
        self.hardfork = hardfork
        # anvil moves old states out of memory into a cache folder, by default one of its own
        # under ~/.foundry/anvil/tmp that it leaves behind when stopped: a long market run left
        # 15 GB there. Ours is removed when the node is stopped.
        self._state_cache = Path(tempfile.mkdtemp(prefix="scf-anvil-states-"))
        super().__init__(host, port, account_count)

    def command(self) -> list[str]:
        args = [
            str(find_anvil_binary()),
            "--host", self.host,
            "--port", str(self.port),
            "--accounts", str(self._account_count),
            "--balance", "1000000",
            "--mnemonic", ANVIL_MNEMONIC,
            "--chain-id", str(self._anvil_chain_id),
            "--hardfork", self.hardfork,
            "--gas-limit", "60000000",
            "--cache-path", str(self._state_cache),
            "--silent",
        ]
        if self._block_time:
            args += ["--block-time", str(self._block_time)]
        if self.keep_states is not None:
            args += ["--prune-history", str(self.keep_states)]
        return args + self._extra_args

    def close(self) -> None:
        super().close()
        shutil.rmtree(self._state_cache, ignore_errors=True)

    def mine_blocks(self, count: int = 1) -> None:
        self._rpc("anvil_mine", [hex(count)])

    def set_block_timestamp_interval(self, seconds: int) -> None:
        """Make each new block exactly `seconds` after the previous one (deterministic time)."""
        self._rpc("anvil_setBlockTimestampInterval", [int(seconds)])
