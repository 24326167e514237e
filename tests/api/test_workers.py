"""`scf serve --workers 3` on one PostgreSQL store and one anvil node: concurrent splits and
transfers by a handful of accounts, spread over the processes, with one process killed (SIGKILL)
mid-run. Clients retry a dropped connection or `503 outcome_pending` with the same
Idempotency-Key, as the API asks. No other error reaches them (no nonce error: the processes
share each account's nonce through the store), every operation is applied exactly once on chain,
and `scf audit reconcile` finds the store equal to the chain."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy import make_url

from scf_chain.chain.anvil import AnvilChain, free_port
from scf_chain.chain.codec import AbiContract
from scf_chain.contracts import artifacts
from tests.indexer.fixtures import fresh_pg_database

pytestmark = [pytest.mark.anvil, pytest.mark.postgres, pytest.mark.slow]
DAY = 86_400
FACE = 1_000_000
SUPPLIERS = 4
# Each operation is a split then a transfer of the split-off token: 96 requests here; the
# benchmark scripts/bench_workers.py runs the same test with SCF_WORKERS_OPS=500 (1,000 requests).
OPS = int(os.environ.get("SCF_WORKERS_OPS", "48"))
PROCESSES = int(os.environ.get("SCF_WORKERS_PROCESSES", "3"))
CLIENTS = 12
SUMMARY = os.environ.get("SCF_WORKERS_SUMMARY")  # where to write what the run saw (JSON)
RETRIED = {"outcome_pending", "idempotency_key_in_use"}


class Workers:
    """`scf serve --workers N` as a real process tree."""

    def __init__(self, folder: Path, rpc_url: str, database_url: str, workers: int,
                 *options: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "SCF_CHAIN_BACKEND": "rpc", "SCF_RPC_URL": rpc_url,
                    "SCF_RPC_DEV_METHODS": "true", "SCF_DATABASE_URL": database_url,
                    "SCF_DATA_DIR": str(folder), "SCF_KEYSTORE_PASSWORD": "pw",
                    "SCF_KEYSTORE_SCRYPT_N": "1024", "SCF_RECEIPT_TIMEOUT_S": "120"}
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "scf_chain.cli", "serve", "--workers", str(workers),
             "--port", str(self.port), "--no-keeper", "--index-interval", "1", *options],
            cwd=folder, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        threading.Thread(target=lambda: self.lines.extend(iter(self.proc.stdout.readline, "")),  # type: ignore[union-attr]
                         daemon=True).start()
        deadline = time.monotonic() + 180
        while not self._pids():
            assert self.proc.poll() is None and time.monotonic() < deadline, self.log()
            time.sleep(0.3)
        while True:
            assert self.proc.poll() is None and time.monotonic() < deadline, self.log()
            try:
                if httpx.get(self.url + "/health", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        key_file = re.search(r"operator API key: (\S+)", self.log())
        assert key_file, self.log()
        self.operator = (folder / key_file.group(1)).read_text().strip()

    def log(self) -> str:
        return "".join(self.lines)

    def _pids(self) -> list[int]:
        found = re.search(r"gateway processes on \S+ \(pids ([\d, ]+)\)", self.log())
        return [int(p) for p in found.group(1).split(", ")] if found else []

    def kill_one(self) -> int:
        pid = self._pids()[0]
        os.kill(pid, signal.SIGKILL)
        return pid

    def stop(self) -> None:
        """SIGTERM: the supervisor stops its processes (and kills what has not stopped)."""
        self.proc.terminate()
        self.proc.wait(timeout=120)


class Client:
    """Posts with one Idempotency-Key per operation, retrying what the API says to retry."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.retried: Counter[str] = Counter()
        self._lock = threading.Lock()

    def _count(self, why: str) -> None:
        with self._lock:
            self.retried[why] += 1

    def post(self, key: str, path: str, body: Any = None, status: int = 200) -> Any:
        idem = str(uuid.uuid4())
        deadline = time.monotonic() + 300
        while True:
            assert time.monotonic() < deadline, f"POST {path} never answered"
            try:
                r = httpx.post(self.url + path, json=body, timeout=180,
                               headers={"Authorization": f"Bearer {key}",
                                        "Idempotency-Key": idem})
            except httpx.TransportError:  # the process serving it was killed: retry
                self._count("connection")
                time.sleep(0.5)
                continue
            if r.status_code == status:
                return r.json()
            code = r.json().get("code") if r.headers.get("content-type", "").endswith(
                "json") else None
            assert code in RETRIED, f"POST {path} -> {r.status_code}: {r.text}"
            self._count(str(code))
            time.sleep(0.5)

    def get(self, key: str, path: str) -> Any:
        r = httpx.get(self.url + path, timeout=60, headers={"Authorization": f"Bearer {key}"})
        assert r.status_code == 200, r.text
        return r.json()


@pytest.fixture()
def gateway(tmp_path: Path) -> Iterator[tuple[AnvilChain, Workers, str]]:
    with fresh_pg_database() as url:
        chain = AnvilChain()
        try:
            workers = Workers(tmp_path, chain.rpc_url, url, PROCESSES)
            try:
                yield chain, workers, url
            finally:
                workers.stop()
        finally:
            chain.close()


def _suppliers_with_tokens(c: Client, op: str) -> tuple[list[tuple[str, str]], list[int]]:
    """(api key, address) of each supplier, and the token of a confirmed receivable each."""
    made = {}
    for name, role, funds in [("core", "debtor", 10**12), ("log", "anchorer", 0)] + [
            (f"sup-{i}", "supplier", 0) for i in range(SUPPLIERS)]:
        out = c.post(op, "/participants", {"name": name, "display_name": name, "roles": [role],
                                           "dev_funds": str(funds)}, 201)
        made[name] = (out["api_key"], out["participant"]["address"])
    c.post(op, "/participants/core/credit-limit", {"limit": str(10**13)})
    (core, buyer), suppliers = made["core"], [made[f"sup-{i}"] for i in range(SUPPLIERS)]
    docs = []
    for i, (key, seller) in enumerate(suppliers):
        kinds = {
            "order": {"kind": "purchase_order", "number": f"PO-{i}", "buyer": buyer,
                      "seller": seller, "issue_date": "2026-09-01", "amount": FACE,
                      "lines": [{"sku": "X", "quantity": 1, "unit_price": FACE}]},
            "delivery": {"kind": "logistics", "waybill": f"W-{i}", "carrier": "SF",
                         "order_number": f"PO-{i}", "event": "delivered",
                         "timestamp": "2026-09-02T00:00:00Z", "shipper": seller,
                         "consignee": buyer, "signed_by": "gate"},
            "invoice": {"kind": "invoice", "number": f"INV-{i}", "seller": seller,
                        "buyer": buyer, "order_number": f"PO-{i}", "amount": FACE, "tax": 0,
                        "issue_date": "2026-09-03"}}
        docs.append({k: c.post(key, "/evidence/documents", d, 201)["doc_id"]
                     for k, d in kinds.items()})
    c.post(made["log"][0], "/evidence/batches", None, 201)
    now = c.get(op, "/health")["head_time"]
    tokens = []
    for (key, _), ids in zip(suppliers, docs, strict=True):
        slot = c.post(key, "/receivables", {
            "debtor": "core", "face_value": str(FACE), "maturity": now + 60 * DAY,
            "invoice_doc_id": ids["invoice"], "order_doc_id": ids["order"],
            "delivery_doc_id": ids["delivery"]}, 201)["slot"]
        tokens.append(int(c.post(core, f"/receivables/{slot}/confirm")["token_id"]))
    return suppliers, tokens


def test_processes_sharing_a_store_apply_each_operation_once_through_a_kill(
        gateway: tuple[AnvilChain, Workers, str]) -> None:
    chain, workers, database_url = gateway
    c = Client(workers.url)
    suppliers, tokens = _suppliers_with_tokens(c, workers.operator)
    done: list[int] = []
    lock = threading.Lock()
    killed = threading.Event()

    def operation(i: int) -> int:
        a = i % SUPPLIERS
        to, then = suppliers[(a + 1) % SUPPLIERS], suppliers[(a + 2) % SUPPLIERS]
        part = int(c.post(suppliers[a][0], f"/tokens/{tokens[a]}/split",
                          {"to": to[1], "value": "1"}, 201)["token_id"])
        c.post(to[0], f"/tokens/{part}/transfer", {"to": then[1]})
        with lock:
            done.append(i)
            if len(done) == OPS // 3 and not killed.is_set():
                killed.set()
                workers.kill_one()  # mid-run: other requests are in flight on every process
        return part

    started = time.monotonic()
    with ThreadPoolExecutor(CLIENTS) as pool:
        parts = list(pool.map(operation, range(OPS)))
    seconds = time.monotonic() - started
    assert killed.is_set()
    assert len(set(parts)) == OPS  # a new token per split, none answered twice
    # exactly once, on the chain itself
    token = AbiContract(chain.w3, c.get(workers.operator, "/health")["receivable_token"],
                        artifacts.load("ReceivableToken").abi)
    value_of = token.get_function_by_signature("balanceOf(uint256)")
    count_of = token.get_function_by_signature("balanceOf(address)")
    per_supplier = OPS // SUPPLIERS
    for a, (_, address) in enumerate(suppliers):
        assert int(value_of(tokens[a]).call()) == FACE - per_supplier
        assert int(count_of(address).call()) == 1 + per_supplier
    for i, part in enumerate(parts):
        owner = suppliers[(i % SUPPLIERS + 2) % SUPPLIERS][1]
        assert token.functions.ownerOf(part).call().lower() == owner.lower()
        assert int(value_of(part).call()) == 1
    # no process signed a nonce another had used: the node refused no transaction for its nonce
    # (one may be refused after the kill: a process killed between the node's acceptance and
    # its commit leaves the account's stored nonce behind, which the next send corrects)
    with psycopg.connect(make_url(database_url).set(drivername="postgresql")
                         .render_as_string(hide_password=False)) as conn:
        refused = conn.execute("SELECT count(*) FROM tx_journal WHERE status = 'refused'"
                               ).fetchone()
    assert refused is not None and refused[0] <= 1, refused
    # only what the API says to retry reached the clients, and only around the kill
    assert set(c.retried) <= RETRIED | {"connection"}, c.retried
    assert sum(c.retried.values()) <= 4 * CLIENTS, c.retried
    # the store (indexed by whichever process held the indexer's lock) equals the chain
    head = chain.block_number()
    deadline = time.monotonic() + 120
    while int(c.get(workers.operator, "/health")["indexed_block"] or -1) < head:
        assert time.monotonic() < deadline, "the indexer did not catch up"
        time.sleep(0.5)
    audit = subprocess.run([sys.executable, "-m", "scf_chain.cli", "audit", "reconcile"],
                           env=workers.env, cwd=workers.env["SCF_DATA_DIR"], capture_output=True,
                           text=True, timeout=300)
    assert audit.returncode == 0, audit.stdout + audit.stderr
    # the supervisor started a process in place of the killed one
    assert "starting another" in workers.log()
    if SUMMARY:
        Path(SUMMARY).write_text(json.dumps({
            "operations": OPS, "requests": 2 * OPS, "processes": PROCESSES, "clients": CLIENTS,
            "seconds": round(seconds, 1), "retried": dict(c.retried),
            "refused_by_nonce": refused[0], "tokens_checked": len(parts),
            "reconcile": audit.stdout.strip().splitlines()[-1:]}, indent=2))


@pytest.mark.timeout(600)
def test_background_process_indexes_while_the_gateway_only_serves(tmp_path: Path) -> None:
    """`scf serve --background process`: the gateway process runs no indexer; the process of
    its own does, and the supervisor starts it again when it dies."""
    with fresh_pg_database() as url:
        chain = AnvilChain()
        try:
            workers = Workers(tmp_path, chain.rpc_url, url, 1, "--background", "process")
            try:
                found = re.search(r"indexer and keeper in pid (\d+)", workers.log())
                assert found, workers.log()
                c = Client(workers.url)

                def indexed_to_head() -> None:
                    head = chain.block_number()
                    deadline = time.monotonic() + 120
                    while int(c.get(workers.operator, "/health")["indexed_block"] or -1) < head:
                        assert time.monotonic() < deadline, "nothing indexed: " + workers.log()
                        time.sleep(0.3)

                # writes do not index (their answers come from their own receipts) and
                # /health reads the cursor without moving it: only the background process can
                c.post(workers.operator, "/participants", {
                    "name": "sup", "display_name": "sup", "roles": ["supplier"]}, 201)
                indexed_to_head()
                os.kill(int(found.group(1)), signal.SIGKILL)
                deadline = time.monotonic() + 60
                while "starting another" not in workers.log():
                    assert time.monotonic() < deadline, workers.log()
                    time.sleep(0.3)
                c.post(workers.operator, "/participants", {
                    "name": "sup-2", "display_name": "sup 2", "roles": ["supplier"]}, 201)
                indexed_to_head()
                listed = c.get(workers.operator, "/participants")
                names = {p["name"] for p in (listed["items"] if isinstance(listed, dict)
                                            else listed)}
                assert {"sup", "sup-2"} <= names
            finally:
                workers.stop()
        finally:
            chain.close()
