"""A dev node we start as a subprocess (anvil, ganache): lifecycle, dev accounts, dev controls."""

from __future__ import annotations

import abc
import atexit
import os
import signal
import socket
import subprocess
import threading
import time
import weakref
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.providers.rpc import HTTPProvider

from scf_chain.chain.base import ChainBackend, lean_web3
from scf_chain.errors import ChainError

# The standard test mnemonic (anvil's and hardhat's default); we start ganache with it too, so
# every dev node has the same accounts.
DEV_MNEMONIC = "test test test test test test test test test test test junk"
DEV_ACCOUNT_COUNT = 20
READY_TIMEOUT_S = 60.0

_live: "weakref.WeakSet[LocalNodeChain]" = weakref.WeakSet()


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def port_is_free(host: str, port: int) -> bool:
    """Whether nothing listens on the port (connections of a stopped node lingering in
    TIME_WAIT do not count: nodes bind over them, as SO_REUSEADDR lets us here)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


_accounts_cache: dict[int, list[LocalAccount]] = {}
_accounts_lock = threading.Lock()


def mnemonic_accounts(count: int = DEV_ACCOUNT_COUNT) -> list[LocalAccount]:
    """The first `count` accounts of DEV_MNEMONIC (m/44'/60'/0'/0/i), derived once."""
    with _accounts_lock:
        if count not in _accounts_cache:
            Account.enable_unaudited_hdwallet_features()
            _accounts_cache[count] = [
                Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{i}")
                for i in range(count)
            ]
        return list(_accounts_cache[count])


class LocalNodeChain(ChainBackend):
    """Starts a node, waits until it answers, and stops it on close, interpreter exit or SIGTERM.

    The node runs in its own process group so Ctrl-C in a terminal reaches Python first and the
    node is then stopped by us: no orphan keeps the port. Subclasses say how to start their node
    (`command`) and add what only their node offers.
    """

    name = "local"

    def __init__(self, host: str = "127.0.0.1", port: int | None = None,
                 account_count: int = DEV_ACCOUNT_COUNT) -> None:
        super().__init__()
        self.host = host
        if port is not None and not port_is_free(host, port):
            # the node would fail to bind and exit, while whatever holds the port (another node)
            # answered our readiness check: we would hand out a URL to a node we do not run
            raise ChainError(f"port {port} on {host} is in use (another node?); choose another "
                             "port or stop what holds it")
        self.port = port or free_port(host)
        self._account_count = account_count
        self._proc: subprocess.Popen[bytes] | None = subprocess.Popen(
            self.command(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        _live.add(self)
        self._w3 = lean_web3(Web3(HTTPProvider(self.rpc_url, request_kwargs={"timeout": 60})))
        try:
            self._wait_ready()
        except BaseException:
            self.close()
            raise

    @abc.abstractmethod
    def command(self) -> list[str]:
        """The node's command line (uses self.host, self.port, self._account_count)."""

    @property
    def rpc_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def w3(self) -> Web3:
        return self._w3

    @property
    def supports_time_control(self) -> bool:
        return True

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            assert self._proc is not None
            if self._proc.poll() is not None:
                err = (self._proc.stderr.read() if self._proc.stderr else b"").decode(errors="replace")
                raise ChainError(f"{self.name} exited with code {self._proc.returncode}: "
                                 f"{err.strip()}")
            try:
                self._chain_id = int(self._w3.eth.chain_id)
                return
            except Exception:
                time.sleep(0.05)
        raise ChainError(f"{self.name} did not answer on {self.rpc_url} within "
                         f"{READY_TIMEOUT_S:.0f}s")

    def dev_accounts(self) -> list[LocalAccount]:
        return mnemonic_accounts(self._account_count)

    def _rpc(self, method: str, params: list[Any]) -> Any:
        resp = self._w3.provider.make_request(method, params)  # type: ignore[arg-type]
        if "error" in resp:
            raise ChainError(f"{method} failed: {resp['error']}")
        return resp.get("result")

    def take_snapshot(self) -> Any:
        return self._rpc("evm_snapshot", [])

    def revert_to_snapshot(self, snapshot: Any) -> None:
        if not self._rpc("evm_revert", [snapshot]):
            raise ChainError(f"snapshot {snapshot} is unknown (a snapshot can be reverted to once)")
        self._forget_nonces()

    def time_travel(self, seconds: int) -> int:
        self._rpc("evm_increaseTime", [max(int(seconds), 1)])
        self._rpc("evm_mine", [])
        return self.now()

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                # SIGKILL cannot be ignored: only a loaded machine makes the kernel take long
                proc.wait(timeout=60)
        if proc.stderr:
            proc.stderr.close()
        _live.discard(self)

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass


def _stop_all() -> None:
    for chain in list(_live):
        chain.close()


atexit.register(_stop_all)


def _install_sigterm_handler() -> None:
    """On SIGTERM stop our nodes, then behave as the previous handler would."""
    if threading.current_thread() is not threading.main_thread():
        return
    previous = signal.getsignal(signal.SIGTERM)

    def handler(signum: int, frame: Any) -> None:
        _stop_all()
        if callable(previous):
            previous(signum, frame)
        else:
            raise SystemExit(128 + signum)

    if previous in (signal.SIG_DFL, None):
        signal.signal(signal.SIGTERM, handler)


_install_sigterm_handler()
