"""Gateway throughput and latency through HTTP on anvil, indexer events/s, 10,000-token trace latency.

Usage: .venv/bin/python scripts/bench_api.py [--receivables 200] [--workers 16]
       [--trace-tokens 10000] [--out reports/bench_api.md]
Targets (issue #5): >= 200 ops/s for issue/split/transfer; >= 2,000 indexer events/s; a trace of
a receivable with 10,000 tokens in < 200 ms. Written to reports/bench_api.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import platform as pyplatform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx
import uvicorn

from api.main import create_app
from scf_chain import db
from scf_chain.chain.anvil import AnvilChain
from scf_chain.config import Settings
from scf_chain.indexer import Indexer
from scf_chain.platform.core import Platform

DAY = 86_400


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Client:
    """A light HTTP client (one keep-alive connection per thread): the load generator shares the
    machine with the server and the node, so it should cost as little CPU as possible."""

    def __init__(self, base: str, key: str) -> None:
        parts = urllib.parse.urlsplit(base)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.auth = f"Bearer {key}"
        self.local = threading.local()

    def _request(self, method: str, path: str, body: Any = None,
                 headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        data = None if body is None else json.dumps(body).encode()
        h = {"Authorization": self.auth, **(headers or {})}
        if data is not None:
            h["Content-Type"] = "application/json"
        for attempt in (0, 1):
            conn = getattr(self.local, "conn", None)
            if conn is None:
                conn = self.local.conn = http.client.HTTPConnection(self.host, self.port,
                                                                    timeout=120)
            try:
                conn.request(method, path, data, h)
                r = conn.getresponse()
                return r.status, r.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                conn.close()
                self.local.conn = None
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def post(self, path: str, body: Any = None, expect: int = 200) -> Any:
        status, data = self._request("POST", path, body, {"Idempotency-Key": str(uuid.uuid4())})
        if status != expect:
            raise RuntimeError(f"POST {path} -> {status}: {data[:500]!r}")
        return json.loads(data)

    def get(self, path: str) -> Any:
        status, data = self._request("GET", path)
        if status != 200:
            raise RuntimeError(f"GET {path} -> {status}: {data[:500]!r}")
        return json.loads(data)


def timed(jobs: list[Callable[[], Any]], workers: int) -> tuple[float, list[float], list[Any]]:
    """Run `jobs` on `workers` threads; (wall seconds, per-job latencies, results)."""
    lat: list[float] = []
    lock = threading.Lock()

    def run(job: Callable[[], Any]) -> Any:
        t = time.perf_counter()
        out = job()
        with lock:
            lat.append(time.perf_counter() - t)
        return out

    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        results = list(pool.map(run, jobs))
    return time.perf_counter() - start, lat, results


def proc_cpu_s(pid: int | None) -> float:
    """CPU seconds (user + system) a process has used so far (Linux /proc)."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--receivables", type=int, default=200,
                    help="receivables issued (apply + confirm), then split and transferred")
    ap.add_argument("--workers", type=int, default=16,
                    help="concurrent HTTP clients")
    ap.add_argument("--trace-tokens", type=int, default=10_000,
                    help="tokens in the receivable whose trace latency is measured")
    ap.add_argument("--server", choices=["process", "thread"], default="process",
                    help="`scf serve` in its own process (as deployed), or a thread of this one")
    ap.add_argument("--out", type=Path, default=ROOT / "reports" / "bench_api.md",
                    help="the report to write (Markdown)")
    args = ap.parse_args()
    n, workers = args.receivables, args.workers
    tmp = Path(tempfile.mkdtemp(prefix="scf-bench-"))
    chain = AnvilChain()
    settings = Settings(chain_backend="anvil", data_dir=tmp, database_url=f"sqlite:///{tmp}/api.db",
                        keystore_path=tmp / "keys", document_store_path=tmp / "docs",
                        deployment_file=tmp / "deployment.json", keystore_password="bench",
                        keystore_scrypt_n=2**12)
    plat = Platform.open(settings, chain=chain)
    port = _free_port()
    server: uvicorn.Server | None = None
    thread: threading.Thread | None = None
    proc: subprocess.Popen[str] | None = None
    if args.server == "thread":
        app = create_app(plat, background=True, index_interval_s=1.0)
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                               log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
    else:  # `scf serve` in its own process, on the same node, store and keys, as deployed
        env = {**os.environ, "SCF_CHAIN_BACKEND": "rpc", "SCF_RPC_URL": chain.rpc_url,
               "SCF_RPC_DEV_METHODS": "true", "SCF_DATA_DIR": str(tmp),
               "SCF_DATABASE_URL": settings.database_url,
               "SCF_KEYSTORE_PATH": str(settings.keystore_path),
               "SCF_DOCUMENT_STORE_PATH": str(settings.document_store_path),
               "SCF_DEPLOYMENT_FILE": str(settings.deployment_file),
               "SCF_KEYSTORE_PASSWORD": "bench", "SCF_KEYSTORE_SCRYPT_N": str(2**12)}
        proc = subprocess.Popen([sys.executable, "-m", "scf_chain.cli", "serve", "--port",
                                 str(port), "--no-keeper", "--index-interval", "1.0"],
                                env=env, cwd=tmp, stdout=subprocess.DEVNULL,
                                stderr=(tmp / "server.log").open("w"))
        deadline = time.monotonic() + 120
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).raise_for_status()
                break
            except httpx.HTTPError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the server did not start; see "
                                       f"{tmp / 'server.log'}") from None
                time.sleep(0.2)
    base = f"http://127.0.0.1:{port}"
    op = Client(base, plat.issue_api_key("operator").token)
    rows: list[tuple[str, int, float, list[float], dict[str, float]]] = []
    pids = {"gateway": proc.pid if proc is not None else None, "node": chain.pid}

    def cpu() -> dict[str, float]:
        out = {k: proc_cpu_s(pid) for k, pid in pids.items()}
        out["load"] = time.process_time()
        return out

    def measured(label: str, jobs: list[Callable[[], Any]]) -> list[Any]:
        before = cpu()
        wall, lat, results = timed(jobs, workers)
        after = cpu()
        rows.append((label, len(jobs), wall, lat, {k: after[k] - before[k] for k in after}))
        return results
    try:
        def participant(name: str, roles: list[str], funds: int = 0) -> tuple[str, Client]:
            out = op.post("/participants", {"name": name, "display_name": name, "roles": roles,
                                            "dev_funds": str(funds)}, 201)
            return out["participant"]["address"], Client(base, out["api_key"])

        core_addr, core = participant("core", ["debtor"], 10**12)
        op.post("/participants/core/credit-limit", {"limit": str(10**15)})
        _, logistics = participant("logistics", ["anchorer"])
        suppliers = [participant(f"sup-{i}", ["supplier"]) for i in range(workers)]

        print(f"evidence for {n} receivables ...")
        doc_ids: list[dict[str, str]] = []

        def submit(i: int) -> dict[str, str]:
            addr, c = suppliers[i % workers]
            docs = {
                "order": {"kind": "purchase_order", "number": f"PO-{i}", "buyer": core_addr,
                          "seller": addr, "issue_date": "2026-09-01", "amount": 1_000_000,
                          "lines": [{"sku": "X", "quantity": 1, "unit_price": 1_000_000}]},
                "delivery": {"kind": "logistics", "waybill": f"W-{i}", "carrier": "SF",
                             "order_number": f"PO-{i}", "event": "delivered",
                             "timestamp": "2026-09-02T00:00:00Z", "shipper": addr,
                             "consignee": core_addr, "signed_by": "gate"},
                "invoice": {"kind": "invoice", "number": f"INV-{i}", "seller": addr,
                            "buyer": core_addr, "order_number": f"PO-{i}", "amount": 1_000_000,
                            "issue_date": "2026-09-03"}}
            return {k: c.post("/evidence/documents", d, 201)["doc_id"] for k, d in docs.items()}

        _, _, doc_ids = timed([lambda i=i: submit(i) for i in range(n)], workers)
        logistics.post("/evidence/batches", None, 201)
        maturity = chain.now() + 60 * DAY

        def issue(i: int) -> int:
            _, c = suppliers[i % workers]
            ids = doc_ids[i]
            slot = c.post("/receivables", {"debtor": "core", "face_value": "100000",
                                           "maturity": maturity, "invoice_doc_id": ids["invoice"],
                                           "order_doc_id": ids["order"],
                                           "delivery_doc_id": ids["delivery"]}, 201)["slot"]
            return int(core.post(f"/receivables/{slot}/confirm")["token_id"])

        print("issue (apply + confirm) ...")
        tokens = measured("issue (apply + confirm: 2 requests)",
                          [lambda i=i: issue(i) for i in range(n)])

        def split(i: int) -> int:
            _, c = suppliers[i % workers]
            to = suppliers[(i + 1) % workers][0]
            return int(c.post(f"/tokens/{tokens[i]}/split", {"to": to, "value": "100"},
                              201)["token_id"])

        print("split ...")
        parts = measured("split", [lambda i=i: split(i) for i in range(n)])

        def transfer(i: int) -> None:
            _, c = suppliers[(i + 1) % workers]
            c.post(f"/tokens/{parts[i]}/transfer", {"to": suppliers[(i + 2) % workers][0]})

        print("transfer ...")
        measured("transfer (whole token)", [lambda i=i: transfer(i) for i in range(n)])

        # A receivable split into --trace-tokens tokens, sent straight to the node (pipelined)
        print(f"{args.trace_tokens} tokens for the trace ...")
        first_slot = plat.token(plat.operator_account).slot_of(tokens[0])
        sender = plat.system.sender(plat.account(plat.participant("sup-0")))
        split_fn = plat.token(sender.account).contract.get_function_by_signature(
            "transferFrom(uint256,address,uint256)")
        last = ""
        t_split = time.perf_counter()
        for k in range(args.trace_tokens - 1):
            to = suppliers[1 + k % (workers - 1)][0]
            call = split_fn(tokens[0], to, 1)
            last = sender.send_raw(call.address, call.data, gas=200_000)
            if k % 200 == 199:  # keep anvil's pending pool small: it slows down when it grows
                sender.wait(last)
        sender.wait(last)
        print(f"   {args.trace_tokens - 1} splits in {time.perf_counter() - t_split:.0f} s")
        auditor_addr, auditor = participant("auditor", ["auditor"])
        if proc is None:
            plat.sync()
        else:  # the server's own indexer catches up with the head
            head = chain.w3.eth.block_number
            while int(auditor.get("/health")["indexed_block"]) < head:
                time.sleep(0.2)
        trace_lat = []
        for _ in range(5):
            t = time.perf_counter()
            tr = auditor.get(f"/audit/receivables/{first_slot}/trace")
            trace_lat.append(time.perf_counter() - t)
        trace_tokens = int(tr["token_count"])

        print("indexer from scratch ...")
        url = f"sqlite:///{tmp}/fresh.db"
        db.upgrade(url)
        sessions = db.session_factory(db.make_engine(url))
        t = time.perf_counter()
        report = Indexer(chain, sessions, plat.manifest, confirmations=0).index_once()
        index_s = time.perf_counter() - t
    finally:
        if server is not None and thread is not None:
            server.should_exit = True
            thread.join(timeout=20)
        if proc is not None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
        plat.close()
        chain.close()

    lines = ["# API benchmark", "",
             f"{dt.date.today().isoformat()} · {pyplatform.machine()} · Python "
             f"{pyplatform.python_version()} · anvil (automine) · uvicorn, 1 worker "
             f"({'its own process' if proc is not None else 'in the client process'}) · "
             f"{workers} concurrent clients · shared 2-core machine (numbers are indicative)", "",
             "| Operation (HTTP, each answer after its transaction is mined) | Ops | Ops/s | p50 ms | "
             "p99 ms | CPU ms/op: gateway | node | load generator |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name, count, wall, lat, used in rows:
        lines.append(f"| {name} | {count} | {count / wall:,.0f} | {pct(lat, 50) * 1000:,.0f} | "
                     f"{pct(lat, 99) * 1000:,.0f} | {used['gateway'] * 1000 / count:,.1f} | "
                     f"{used['node'] * 1000 / count:,.1f} | {used['load'] * 1000 / count:,.1f} |")
    lines += ["", "CPU ms/op is the CPU time each process used during the phase, per operation: "
              "with all three on 2 cores, ops/s can be at most about 2,000 / (their sum). "
              + ("" if proc is not None else "(the gateway runs in the load generator's process: "
                 "its CPU is counted there)")]
    lines += ["", f"Indexer from block 0 (real chain, {report.events:,} events, SQLite): "
              f"{report.events / index_s:,.0f} events/s ({index_s:.1f} s).", "",
              f"Trace of a receivable with {trace_tokens:,} tokens, GET /audit/receivables/{{slot}}"
              f"/trace over HTTP, median of 5: {statistics.median(trace_lat) * 1000:,.0f} ms "
              f"(min {min(trace_lat) * 1000:,.0f} ms).", "",
              "Targets: >= 200 ops/s; >= 2,000 events/s; < 200 ms per trace.", ""]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
