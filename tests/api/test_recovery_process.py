"""`scf serve` as a real process, killed with SIGKILL in the middle of POST /offers (between
signing and broadcast, between broadcast and receipt with the node losing the transaction, and
after the receipt), then started again on the same data folder: start-up recovery rebroadcasts
what the node lacks, and the client's retry with the same Idempotency-Key gets the offer, made
exactly once on chain.

The gateway talks to anvil through a JSON-RPC proxy of this test, which holds the gateway's
requests at the kill point (a held request is dropped, never forwarded), so each kill lands
where it is meant to without any hook in the gateway."""

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
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from scf_chain.chain.anvil import AnvilChain
from scf_chain.chain.codec import AbiContract
from scf_chain.contracts import artifacts

pytestmark = pytest.mark.anvil
DAY = 86_400
FACE = 1_000_000


class RpcProxy:
    """Forwards JSON-RPC to a node; `arm(point)` makes it hold the gateway at a kill point."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.point: str | None = None
        self.sent: list[str] = []  # transaction hashes the node accepted through us
        self.reached = threading.Event()  # the gateway is held at the armed point
        self.dropping = threading.Event()  # held requests are given up (never forwarded)
        self._hold_all = False
        self._lock = threading.Lock()
        self.http = httpx.Client(timeout=60)
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - the http.server interface
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                out = proxy.handle(body)
                if out is None:  # held, then dropped: the client sees its connection die
                    self.close_connection = True
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def arm(self, point: str) -> None:
        with self._lock:
            self.point, self._hold_all = point, False
            self.sent.clear()
            self.reached.clear()
            self.dropping.clear()

    def disarm(self) -> None:
        with self._lock:
            self.point, self._hold_all = None, False
        self.dropping.set()

    def _hold(self) -> None:
        self.reached.set()
        self.dropping.wait()

    def handle(self, body: bytes) -> bytes | None:
        calls = json.loads(body)
        methods = {c.get("method") for c in (calls if isinstance(calls, list) else [calls])}
        with self._lock:
            point, hold_all = self.point, self._hold_all
        if hold_all or (point == "between_signing_and_broadcast"
                        and "eth_sendRawTransaction" in methods):
            self._hold()
            return None
        if (point == "between_broadcast_and_receipt" and "eth_getTransactionReceipt" in methods
                and self.sent):
            self._hold()
            return None
        out = self.http.post(self.upstream, content=body,
                             headers={"Content-Type": "application/json"}).content
        answer = json.loads(out)
        if "eth_sendRawTransaction" in methods and isinstance(answer, dict) and answer.get(
                "result"):
            self.sent.append(answer["result"])
        if (point == "after_the_receipt" and "eth_getTransactionReceipt" in methods
                and isinstance(answer, dict) and answer.get("result")):
            with self._lock:
                self._hold_all = True  # the gateway has its receipt: stop it at its next call
        return out

    def close(self) -> None:
        self.disarm()
        self.server.shutdown()
        self.server.server_close()
        self.http.close()


class Gateway:
    """`scf serve` processes on one data folder, one after another."""

    def __init__(self, folder: Path, rpc_url: str) -> None:
        self.folder = folder
        self.env = {**os.environ, "SCF_CHAIN_BACKEND": "rpc", "SCF_RPC_URL": rpc_url,
                    "SCF_RPC_DEV_METHODS": "true", "SCF_KEYSTORE_PASSWORD": "pw",
                    "SCF_KEYSTORE_SCRYPT_N": "1024", "SCF_RECEIPT_TIMEOUT_S": "60"}
        self.proc: subprocess.Popen[str] | None = None
        self.lines: list[str] = []
        self.url = ""
        self.operator_key = ""

    def start(self) -> None:
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.lines = []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "scf_chain.cli", "serve", "--port", str(port), "--no-keeper"],
            cwd=self.folder, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True)
        threading.Thread(target=lambda: self.lines.extend(iter(self.proc.stdout.readline, "")),  # type: ignore[union-attr]
                         daemon=True).start()
        self.url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            assert self.proc.poll() is None, "".join(self.lines)
            assert time.monotonic() < deadline, "".join(self.lines)
            try:
                if httpx.get(self.url + "/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        found = re.search(r"operator API key: (\S+)", "".join(self.lines))
        assert found, "".join(self.lines)
        self.operator_key = (self.folder / found.group(1)).read_text().strip()

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def post(self, key: str, path: str, body: Any = None, idem: str | None = None,
             timeout: float = 120) -> httpx.Response:
        return httpx.post(self.url + path, json=body, timeout=timeout,
                          headers={"Authorization": f"Bearer {key}",
                                   "Idempotency-Key": idem or str(uuid.uuid4())})

    def get(self, key: str, path: str) -> httpx.Response:
        return httpx.get(self.url + path, timeout=60, headers={"Authorization": f"Bearer {key}"})


@pytest.fixture()
def node() -> Iterator[tuple[AnvilChain, RpcProxy]]:
    chain = AnvilChain()  # its own node: the test switches its mining off and on
    proxy = RpcProxy(chain.rpc_url)
    try:
        yield chain, proxy
    finally:
        proxy.close()
        chain.close()


def _ok(r: httpx.Response, status: int = 200) -> Any:
    assert r.status_code == status, r.text
    return r.json()


def _token(gw: Gateway) -> tuple[str, str, int]:
    """A supplier holding a confirmed receivable's token, and a bank: (supplier key, bank key,
    token id)."""
    op = gw.operator_key
    keys, addresses = {}, {}
    for name, role, funds in (("core", "debtor", 10**12), ("sup", "supplier", 0),
                              ("bank", "financier", 10**12), ("log", "anchorer", 0)):
        created = _ok(gw.post(op, "/participants", {"name": name, "display_name": name,
                                                    "roles": [role], "dev_funds": str(funds)}),
                      201)
        keys[name], addresses[name] = created["api_key"], created["participant"]["address"]
    _ok(gw.post(op, "/participants/core/credit-limit", {"limit": str(10**13)}))
    b, s = addresses["core"], addresses["sup"]
    docs = {
        "order": {"kind": "purchase_order", "number": "PO-1", "buyer": b, "seller": s,
                  "issue_date": "2026-09-01", "amount": FACE,
                  "lines": [{"sku": "X", "quantity": 1, "unit_price": FACE}]},
        "delivery": {"kind": "logistics", "waybill": "W-1", "carrier": "SF",
                     "order_number": "PO-1", "event": "delivered",
                     "timestamp": "2026-09-02T00:00:00Z", "shipper": s, "consignee": b,
                     "signed_by": "gate"},
        "invoice": {"kind": "invoice", "number": "INV-1", "seller": s, "buyer": b,
                    "order_number": "PO-1", "amount": FACE, "tax": 0,
                    "issue_date": "2026-09-03"},
    }
    ids = {kind: _ok(gw.post(keys["sup"], "/evidence/documents", doc), 201)["doc_id"]
           for kind, doc in docs.items()}
    _ok(gw.post(keys["log"], "/evidence/batches"), 201)
    now = _ok(gw.get(op, "/health"))["head_time"]
    slot = _ok(gw.post(keys["sup"], "/receivables", {
        "debtor": "core", "face_value": str(FACE), "maturity": now + 60 * DAY,
        "invoice_doc_id": ids["invoice"], "order_doc_id": ids["order"],
        "delivery_doc_id": ids["delivery"]}), 201)["slot"]
    token = _ok(gw.post(keys["core"], f"/receivables/{slot}/confirm"))["token_id"]
    return keys["sup"], keys["bank"], int(token)


def _offers_from(chain: AnvilChain, receivable_token: str, token: int, value: int) -> int:
    """Offers of `value` made from `token`, read from the node itself."""
    c = AbiContract(chain.w3, receivable_token, artifacts.load("ReceivableToken").abi)
    count = int(c.functions.offerCount().call())
    found = 0
    for i in range(1, count + 1):
        o = c.functions.getOffer(i).call()
        found += int(o[4]) == token and int(o[6]) == value
    return found


@pytest.mark.parametrize("point", ["between_signing_and_broadcast",
                                   "between_broadcast_and_receipt", "after_the_receipt"])
def test_a_gateway_killed_mid_offer_makes_it_once_and_answers_the_retry(
        node: tuple[AnvilChain, RpcProxy], tmp_path: Path, point: str) -> None:
    chain, proxy = node
    gw = Gateway(tmp_path, proxy.url)
    gw.start()
    try:
        sup, _, token = _token(gw)
        contracts = _ok(gw.get(gw.operator_key, "/health"))["receivable_token"]
        now = _ok(gw.get(gw.operator_key, "/health"))["head_time"]
        body = {"token_id": str(token), "value": "12345", "financier": "bank", "price": "12000",
                "expiry": now + DAY}
        key = str(uuid.uuid4())
        if point == "between_broadcast_and_receipt":
            chain.w3.provider.make_request("evm_setAutomine", [False])  # type: ignore[arg-type]
        proxy.arm(point)
        answers: list[Any] = []

        def first_attempt() -> None:
            try:
                answers.append(gw.post(sup, "/offers", body, idem=key))
            except httpx.HTTPError as exc:  # the gateway died under it
                answers.append(exc)

        worker = threading.Thread(target=first_attempt, daemon=True)
        worker.start()
        assert proxy.reached.wait(120), "".join(gw.lines)
        gw.kill()
        proxy.disarm()
        worker.join(timeout=60)
        assert answers and isinstance(answers[0], httpx.HTTPError)  # no answer: it died
        if point == "between_broadcast_and_receipt":
            # the node loses the pending transaction (a restart, an eviction), then mines again
            assert len(proxy.sent) == 1
            chain.w3.provider.make_request("anvil_dropTransaction", [proxy.sent[0]])  # type: ignore[arg-type]
            chain.w3.provider.make_request("evm_setAutomine", [True])  # type: ignore[arg-type]
        made = _offers_from(chain, contracts, token, 12345)
        assert made == (1 if point == "after_the_receipt" else 0)
        gw.start()  # recovery: the journaled offer is broadcast again where the node lacks it
        assert _offers_from(chain, contracts, token, 12345) == 1
        started = time.monotonic()
        again = gw.post(sup, "/offers", body, idem=key)
        offer = _ok(again, 201)
        assert again.headers["Idempotent-Replayed"] == "true"
        assert time.monotonic() - started < 60  # no stale time to wait out
        assert offer["value"] == "12345" and offer["status"] == "open"
        assert _offers_from(chain, contracts, token, 12345) == 1
        value = _ok(gw.get(sup, f"/tokens/{token}"))["value"]
        assert int(value) == FACE - 12345  # escrowed once
        assert gw.post(sup, "/offers", body, idem=key).json() == offer
    finally:
        gw.stop()
