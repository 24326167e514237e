"""Every backend deploys a contract, round-trips a transaction and (dev chains) controls time."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from typing import Any

import pytest

from scf_chain.chain import connect
from scf_chain.chain.anvil import AnvilChain
from scf_chain.chain.base import ChainBackend
from scf_chain.chain.ganache import GANACHE_CHAIN_ID, GanacheChain
from scf_chain.chain.rpc import RpcChain
from scf_chain.chain.sender import TxSender
from scf_chain.config import Settings
from scf_chain.contracts import artifacts
from scf_chain.errors import ChainError, ConfigError


@pytest.fixture(params=["embedded", "anvil", "ganache", "rpc", "rpc-ganache"])
def chain(request: Any, anvil_chain: AnvilChain) -> Iterator[ChainBackend]:
    if request.param in ("embedded", "anvil", "ganache"):
        yield request.getfixturevalue(f"{request.param}_chain")
    else:
        # the rpc backend pointed at a node we did not start (anvil stands in for geth/Besu;
        # ganache is a second, independently written node with its own quirks)
        node = anvil_chain if request.param == "rpc" else request.getfixturevalue("ganache_chain")
        rpc = RpcChain(node.rpc_url, allow_dev_methods=True)
        yield rpc
        rpc.close()


def _funder(chain: ChainBackend, anvil_chain: AnvilChain) -> Any:
    # the rpc backend has no dev accounts of its own: borrow the node's
    return (chain.dev_accounts() or anvil_chain.dev_accounts())[3]


def test_each_backend_deploys_and_round_trips_a_transfer(chain: ChainBackend, anvil_chain: AnvilChain) -> None:
    art = artifacts.load("TestSettlementToken")
    owner = _funder(chain, anvil_chain)
    sender = TxSender(chain, owner)
    rcpt = sender.deploy(art.abi, art.bytecode)
    token = chain.w3.eth.contract(address=rcpt.contract_address, abi=art.abi)
    other = (chain.dev_accounts() or anvil_chain.dev_accounts())[4].address
    sender.transact(token.functions.mint(owner.address, 1_000_00))
    before = token.functions.balanceOf(other).call()
    sent = sender.transact(token.functions.transfer(other, 250_00))
    assert sent.gas_used > 21_000
    assert token.functions.balanceOf(other).call() == before + 250_00
    assert token.functions.balanceOf(owner.address).call() == 750_00
    assert chain.info().chain_id == chain.chain_id() > 0


def test_dev_chains_move_time_forward_and_mine(chain: ChainBackend) -> None:
    start = chain.now()
    after = chain.time_travel(86_400)
    assert after >= start + 86_400
    height = chain.block_number()
    chain.mine_blocks(3)
    assert chain.block_number() == height + 3


def test_snapshots_revert_state(chain: ChainBackend) -> None:
    snap = chain.take_snapshot()
    height = chain.block_number()
    chain.mine_blocks(2)
    chain.revert_to_snapshot(snap)
    assert chain.block_number() == height


def test_rpc_backend_refuses_time_control_unless_allowed(anvil_chain: AnvilChain) -> None:
    rpc = RpcChain(anvil_chain.rpc_url)
    with pytest.raises(ChainError, match="disabled"):
        rpc.time_travel(10)
    assert rpc.dev_accounts() == []


def test_rpc_backend_with_dev_methods_uses_the_nodes_test_mnemonic_accounts(
        anvil_chain: AnvilChain) -> None:
    """An anvil the operator started (standard test mnemonic) gives the rpc backend the same
    funded dev accounts, so `scf serve` against it can fund new participants with gas."""
    rpc = RpcChain(anvil_chain.rpc_url, allow_dev_methods=True)
    try:
        assert [a.address for a in rpc.dev_accounts()] == \
            [a.address for a in anvil_chain.dev_accounts()]
    finally:
        rpc.close()


def test_rpc_backend_reports_an_unreachable_node() -> None:
    with pytest.raises(ChainError, match="cannot reach"):
        RpcChain("http://127.0.0.1:9", timeout_s=2)


def test_connect_follows_settings(anvil_chain: AnvilChain) -> None:
    chain = connect(Settings(chain_backend="rpc", rpc_url=anvil_chain.rpc_url))
    assert chain.chain_id() == anvil_chain.chain_id()
    with pytest.raises(ConfigError):
        connect(Settings(chain_backend="rpc", rpc_url=None))
    embedded = connect(Settings(chain_backend="embedded"))
    assert embedded.name == "embedded"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead for our purposes
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_anvil_stops_on_close_and_in_a_with_block_that_raises() -> None:
    chain = AnvilChain()
    pid = chain.pid
    assert pid and _alive(pid)
    cache = chain._state_cache  # where anvil moves old states: its own folder, not ~/.foundry
    with open(f"/proc/{pid}/cmdline", "rb") as fh:
        assert str(cache).encode() in fh.read().split(b"\0")
    chain.close()
    assert not _alive(pid)
    assert not cache.exists()  # removed with the node
    with pytest.raises(RuntimeError):
        with AnvilChain() as inner:
            pid2 = inner.pid  # type: ignore[attr-defined]
            raise RuntimeError("test failure inside")
    assert not _alive(pid2)


def test_ganache_stops_on_close() -> None:
    chain = GanacheChain()
    pid = chain.pid
    assert pid and _alive(pid) and chain.chain_id() == GANACHE_CHAIN_ID
    chain.close()
    assert not _alive(pid)


def test_connect_starts_ganache_for_the_ganache_backend() -> None:
    with connect(Settings(chain_backend="ganache")) as chain:
        assert chain.name == "ganache" and chain.supports_time_control
        # started with the standard test mnemonic: the same funded accounts as anvil's
        first = chain.dev_accounts()[0].address
        assert first == "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
        assert chain.w3.eth.get_balance(first) > 0


def test_anvil_refuses_a_port_another_node_holds(anvil_chain: AnvilChain) -> None:
    # the other node would answer the readiness check while ours fails to bind and exits
    with pytest.raises(ChainError, match=f"port {anvil_chain.port} .* is in use"):
        AnvilChain(port=anvil_chain.port)
    assert anvil_chain.block_number() >= 0  # the other one still answers


# Under load (a full suite on two busy cores) a Python process needs many seconds to finish
# once interrupted (traceback, atexit, tearing down web3's modules), although it stops its node
# at once: the deadlines below are generous, the property is strict (a node still alive once its
# parent is gone is an orphan, and an orphan never goes away by waiting).
NODE_STOP_S = 120.0
PARENT_EXIT_S = 180.0


def _as_from_a_shell() -> None:
    """The child starts as a program started from a terminal would: SIGINT and SIGTERM at their
    default disposition and not blocked, whatever the test worker running this test inherited
    or set (an ignored or blocked signal is inherited across exec, and Python then never raises
    KeyboardInterrupt)."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})


def _signal_state(pid: int) -> str:
    """A process's state and signal masks, for a failure message."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            return "; ".join(line.strip() for line in fh
                             if line.startswith(("State", "SigBlk", "SigIgn", "SigCgt", "SigPnd",
                                                 "ShdPnd")))
    except FileNotFoundError:
        return "exited"


@pytest.mark.parametrize("how", ["sigint", "sigterm", "exception"])
def test_anvil_leaves_no_orphan_when_its_process_is_interrupted(tmp_path: Any, how: str) -> None:
    pidfile = tmp_path / "pid"
    # The child waits the way a program does (`scf chain up`: short waits in a loop). One long
    # time.sleep() can miss a signal that lands between Python's last check and the start of
    # the sleep: CPython then sleeps the whole minute before it sees the KeyboardInterrupt.
    script = textwrap.dedent(f"""
        import sys, time
        from scf_chain.chain.anvil import AnvilChain
        chain = AnvilChain()
        open({str(pidfile)!r}, "w").write(str(chain.pid))
        print("ready", flush=True)
        if {how!r} == "exception":
            raise SystemExit("boom")
        while True:
            time.sleep(0.2)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                            preexec_fn=_as_from_a_shell)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready" or how == "exception"
        pid = int(pidfile.read_text())
        if how == "sigint":
            proc.send_signal(signal.SIGINT)
        elif how == "sigterm":
            proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + NODE_STOP_S
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(pid), (f"anvil {pid} still runs {NODE_STOP_S:.0f}s after {how}; its "
                                 f"parent {proc.pid}: {_signal_state(proc.pid)}")
        assert proc.wait(timeout=PARENT_EXIT_S) != 0  # interrupted, or SystemExit("boom")
        assert not _alive(pid), f"anvil {pid} outlived its parent ({how})"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_anvil_keeping_recent_states_answers_recent_blocks_and_refuses_older_ones() -> None:
    with AnvilChain(keep_states=4) as chain:
        assert chain.command()[-2:] == ["--prune-history", "4"]
        addr = chain.dev_accounts()[1].address
        before = chain.w3.eth.get_balance(addr)
        chain.mine_blocks(20)
        head = chain.block_number()
        assert chain.w3.eth.get_balance(addr, head - 1) == before  # a recent block: kept
        with pytest.raises(Exception, match="(?i)out ?of ?range|state|pruned"):
            chain.w3.eth.get_balance(addr, 1)  # far behind: pruned, as a pruning node refuses it


def test_anvil_keeps_every_state_unless_told_and_refuses_a_count_under_one(
        anvil_chain: AnvilChain) -> None:
    assert anvil_chain.keep_states is None and "--prune-history" not in anvil_chain.command()
    with pytest.raises(ConfigError, match="keep_states"):
        AnvilChain(keep_states=0)


def test_connect_passes_the_kept_states_setting(tmp_path: Any) -> None:
    chain = connect(Settings(chain_backend="anvil", data_dir=tmp_path, anvil_keep_states=8))
    try:
        assert isinstance(chain, AnvilChain) and chain.keep_states == 8
        assert chain.command()[-2:] == ["--prune-history", "8"]
    finally:
        chain.close()
