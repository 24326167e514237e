"""The record a node started by `scf chain up` leaves in the data folder, so `scf chain down` stops exactly it.

One file per port, `<data dir>/chain-<port>.json` (0600), naming the `scf chain up` process and
the node it started. Stopping checks that each pid still runs the program recorded (a pid may be
reused after a crash) and never signals anything else: no `pkill -f anvil`, which would stop
every node on the machine. Works for every node `scf chain up` starts (anvil, ganache).
"""

from __future__ import annotations

import json
import os
import signal
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from scf_chain.errors import ConfigError
from scf_chain.files import private_dir, write_private

PREFIX = "chain-"


@dataclass(frozen=True)
class NodeRecord:
    pid: int  # the `scf chain up` process (it stops its node when it ends)
    node_pid: int  # the node itself (its own process group)
    port: int
    rpc_url: str
    node: str = "anvil"  # the node program (anvil, ganache): its command line names it

    @staticmethod
    def path(data_dir: Path, port: int) -> Path:
        return Path(data_dir) / f"{PREFIX}{port}.json"

    def write(self, data_dir: Path) -> Path:
        private_dir(data_dir)
        path = self.path(data_dir, self.port)
        path.unlink(missing_ok=True)  # a stale record of a node that died with its machine
        write_private(path, json.dumps(asdict(self)).encode())
        return path

    @classmethod
    def read(cls, path: Path) -> NodeRecord:
        try:
            return cls(**json.loads(path.read_text(encoding="utf-8")))
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"{path} is not a node record ({exc})") from None


def records(data_dir: Path) -> list[Path]:
    return sorted(Path(data_dir).glob(f"{PREFIX}*.json"))


def find(data_dir: Path, port: int | None) -> Path:
    """The record of the node on `port`, or the only one in the data folder."""
    if port is not None:
        path = NodeRecord.path(data_dir, port)
        if not path.exists():
            raise ConfigError(f"no node started by `scf chain up` on port {port} here "
                              f"({path} does not exist; SCF_DATA_DIR is {data_dir})")
        return path
    found = records(data_dir)
    if not found:
        raise ConfigError(f"no node started by `scf chain up` here (no {PREFIX}*.json in "
                          f"{data_dir}; SCF_DATA_DIR)")
    if len(found) > 1:
        ports = ", ".join(p.stem.removeprefix(PREFIX) for p in found)
        raise ConfigError(f"several nodes run from {data_dir} (ports {ports}): choose one with "
                          "--port")
    return found[0]


def runs(pid: int, *words: str) -> bool:
    """Whether `pid` is alive and its command line holds every one of `words`."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(
            errors="replace")
    except OSError:
        return False
    return all(w in cmdline for w in words)


def _wait_gone(pid: int, *words: str, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not runs(pid, *words):
            return True
        time.sleep(0.1)
    return not runs(pid, *words)


def stop(path: Path, timeout_s: float = 30.0) -> str:
    """Stop the node `path` records; remove the record. Returns what was done, in one line."""
    rec = NodeRecord.read(path)
    port_arg = str(rec.port)
    what = "nothing was running (a stale record)"
    if runs(rec.pid, "chain", "up"):
        os.kill(rec.pid, signal.SIGTERM)  # it stops its node, then exits
        if not _wait_gone(rec.pid, "chain", "up", timeout_s=timeout_s):
            raise ConfigError(f"`scf chain up` (pid {rec.pid}) did not stop within "
                              f"{timeout_s:.0f}s")
        what = f"stopped `scf chain up` (pid {rec.pid}) and its node"
    if runs(rec.node_pid, rec.node, port_arg):  # left behind by a `chain up` that was killed
        os.killpg(rec.node_pid, signal.SIGTERM)
        if not _wait_gone(rec.node_pid, rec.node, port_arg, timeout_s=timeout_s):
            os.killpg(rec.node_pid, signal.SIGKILL)
        what = f"stopped the node (pid {rec.node_pid}) a killed `scf chain up` left behind"
    path.unlink(missing_ok=True)
    return f"port {rec.port}: {what}"
