"""The ganache chain: an independently written JavaScript node (npm `ganache`) on a pre-Cancun fork."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from scf_chain.chain.localnode import DEV_ACCOUNT_COUNT, DEV_MNEMONIC, LocalNodeChain
from scf_chain.errors import ChainError

GANACHE_CHAIN_ID = 1337
# ganache 7 knows forks up to Shanghai (PUSH0, no transient storage): the deployment probes it
# and picks the Paris build of the contracts. "merge" is its name for Paris; "berlin" and
# earlier have no base fee, so transactions there are legacy (type 0) ones.
GANACHE_HARDFORK = "shanghai"


def find_ganache() -> list[str]:
    """The command that runs ganache: $SCF_GANACHE_BIN, the project's node_modules (under node),
    or `ganache` on PATH."""
    env = os.environ.get("SCF_GANACHE_BIN")
    if env:
        return [env]
    node = shutil.which("node")
    here = Path(__file__).resolve()
    for parent in here.parents:
        cli = parent / "node_modules" / "ganache" / "dist" / "node" / "cli.js"
        if cli.exists() and node:
            return [node, str(cli)]
    found = shutil.which("ganache")
    if found:
        return [found]
    raise ChainError("ganache not found: run `npm ci` in the project root (it installs the npm "
                     "package ganache; Node must be on PATH) or set SCF_GANACHE_BIN")


class GanacheChain(LocalNodeChain):
    """ganache started on a free loopback port with the standard test mnemonic.

    `hardfork` is one of ganache's names ("shanghai", "merge", "london", "berlin", ...);
    `gas_price` the node's minimum and suggested gas price in wei (0: a zero-fee network, as
    many consortium chains are; on "berlin" or earlier the sender then signs type 0
    transactions with gasPrice 0). Its quirks (revert data nested under `result` in gas
    estimates, its wording of nonce and balance refusals) are read by the chain layer
    (`reverts`, `sender`), the same whichever backend talks to it.
    """

    name = "ganache"

    def __init__(self, host: str = "127.0.0.1", port: int | None = None,
                 account_count: int = DEV_ACCOUNT_COUNT, chain_id: int = GANACHE_CHAIN_ID,
                 hardfork: str = GANACHE_HARDFORK, gas_price: int | None = None) -> None:
        self.hardfork = hardfork
        self._ganache_chain_id = chain_id
        self._gas_price = gas_price
        super().__init__(host, port, account_count)

    def command(self) -> list[str]:
        args = [
            *find_ganache(),
            "--server.host", self.host,
            "--server.port", str(self.port),
            "--chain.chainId", str(self._ganache_chain_id),
            "--chain.hardfork", self.hardfork,
            "--wallet.mnemonic", DEV_MNEMONIC,
            "--wallet.totalAccounts", str(self._account_count),
            "--wallet.defaultBalance", "1000000",
            "--miner.blockGasLimit", hex(60_000_000),
            "--miner.instamine", "strict",
            "--logging.quiet",
        ]
        if self._gas_price is not None:
            args += ["--miner.defaultGasPrice", hex(self._gas_price)]
        return args

    def mine_blocks(self, count: int = 1) -> None:
        self._rpc("evm_mine", [{"blocks": int(count)}])
