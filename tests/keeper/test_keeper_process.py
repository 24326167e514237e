"""`scf keeper` as a real process, killed with SIGKILL in the middle of paying holders, then run
again: every holder ends up paid exactly its share, once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from eth_utils import keccak
from sqlalchemy import func, select

from scf_chain import db
from scf_chain.chain.anvil import AnvilChain
from scf_chain.db.models import KeeperAction
from scf_chain.devnet import DEV_PARTICIPANTS, start_devnet

DAY = 86_400
HOLDERS = ("supplier-a", "supplier-b", "supplier-c", "bank")
PARTS = 48  # tokens beside the first: enough batches of one that a kill lands mid-run


@pytest.mark.anvil
def test_keeper_process_killed_with_sigkill_resumes_and_pays_once(tmp_path: Path) -> None:
    chain = AnvilChain()  # its own node: the test moves time forward
    try:
        net = start_devnet(chain, manifest_path=tmp_path / "deployment.json")
        key, fields_root = keccak(text="inv:kill"), keccak(text="f:kill")
        leaf = keccak(b"\x00" + keccak(key + fields_root))
        net.evidence("logistics").anchor(leaf, 3, 1)
        a = net.token("supplier-a")
        face = 1_000_000
        slot = a.apply_for(net.address("core"), net.address("supplier-a"), face,
                           net.manifest.dev_settlement_token or "", chain.now() + 30 * DAY, key,
                           fields_root, leaf, []).slot
        first = net.token("core").confirm(slot).token_id
        owed = dict.fromkeys(HOLDERS, 0)
        for i in range(PARTS):
            holder = HOLDERS[1 + i % 3]
            value = 1_000 + 10 * i
            a.split(first, net.address(holder), value)
            owed[holder] += value
        owed["supplier-a"] = face - sum(owed.values())
        net.settlement("core").approve(net.manifest.receivable_token, face)
        net.token("core").authorize_collection(slot)
        chain.time_travel(31 * DAY)

        url = f"sqlite:///{tmp_path}/store.db"
        db.upgrade(url)
        sessions = db.session_factory(db.make_engine(url))
        money = net.settlement("operator")
        before = {h: money.balance_of(net.address(h)) for h in HOLDERS}
        env = {**os.environ, "SCF_CHAIN_BACKEND": "rpc", "SCF_RPC_URL": chain.rpc_url,
               "SCF_DEPLOYMENT_FILE": str(tmp_path / "deployment.json"),
               "SCF_DATABASE_URL": url}
        base = [sys.executable, "-m", "scf_chain.cli", "keeper", "--once", "--batch-size", "1",
                "--dev-account", str(list(DEV_PARTICIPANTS).index("keeper"))]
        cmd = [*base, "--keeper-id", "keeper-1"]

        def redeemed_batches() -> int:
            with sessions() as s:
                return int(s.scalar(select(func.count()).select_from(KeeperAction)
                                    .where(KeeperAction.action == "redeem_batch")) or 0)

        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 120
        while redeemed_batches() < 5 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == -signal.SIGKILL, f"the keeper finished before the kill:\n{out}"
        paid_at_kill = {h: money.balance_of(net.address(h)) - before[h] for h in HOLDERS}
        assert 0 < sum(paid_at_kill.values()) < face  # killed part-way through the holders

        # another keeper leaves the receivable alone while the dead one's lease runs
        rival = subprocess.run([*base, "--keeper-id", "keeper-2"], env=env, capture_output=True,
                               text=True, timeout=300, check=False)
        assert rival.returncode == 0 and "skipped 1 receivables" in rival.stdout, rival.stdout
        assert {h: money.balance_of(net.address(h)) - before[h] for h in HOLDERS} == paid_at_kill
        # the killed keeper, restarted under its id, takes its lease back and finishes
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300,
                              check=False)
        assert done.returncode == 0, done.stdout + done.stderr
        paid = {h: money.balance_of(net.address(h)) - before[h] for h in HOLDERS}
        assert paid == owed  # each holder its exact share (full repayment: its token values)
        assert sum(paid.values()) == face  # nothing created, nothing lost
        assert net.token("operator").get_receivable(slot).paid_out == face
        with sessions() as s:
            hashes = s.scalars(select(KeeperAction.tx_hash)
                               .where(KeeperAction.tx_hash.is_not(None))).all()
        assert len(hashes) == len(set(hashes))  # every logged action is its own transaction
        again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300,
                               check=False)
        assert "paid out 0" in again.stdout  # nothing left: a third run pays nothing
    finally:
        chain.close()
