"""A lean JSON-RPC client over HTTP for the hot paths (send, receipts, logs).

web3's HTTPProvider goes through `requests` (sessions, adapters, hooks, cookie handling): on a
gateway that writes a transaction per request it was a quarter of the CPU. This keeps one
keep-alive `http.client` connection per thread and endpoint and sends plain JSON.

Retries: a request that fails on a reused connection before any answer (the node closed an idle
keep-alive connection) is sent once more on a fresh one, except `eth_sendRawTransaction`: the
node may have taken it, and the sender must see the failure rather than broadcast twice.
"""

from __future__ import annotations

import base64
import http.client
import itertools
import json
import threading
import urllib.parse
import weakref
from typing import Any

from web3.exceptions import Web3RPCError

from scf_chain.errors import ChainError

NOT_RETRIED = frozenset({"eth_sendRawTransaction", "eth_sendTransaction"})
_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError,
          http.client.CannotSendRequest, http.client.BadStatusLine)


class HttpJsonRpc:
    """One JSON-RPC endpoint (http or https URL, optional user:password@)."""

    def __init__(self, url: str, timeout_s: float = 60.0) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ChainError(f"not an http(s) JSON-RPC URL: {url!r}")
        self.url = url
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port
        self._path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._timeout = timeout_s
        self._headers = {"Content-Type": "application/json", "Connection": "keep-alive"}
        if parts.username is not None:
            cred = f"{urllib.parse.unquote(parts.username)}:{urllib.parse.unquote(parts.password or '')}"
            self._headers["Authorization"] = "Basic " + base64.b64encode(cred.encode()).decode()
        self._local = threading.local()
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        # every open connection, for close(); a connection goes when its thread or replacement
        # drops it
        self._all: weakref.WeakSet[http.client.HTTPConnection] = weakref.WeakSet()

    def _connection(self, fresh: bool) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is not None and not fresh:
            return conn
        if conn is not None:
            conn.close()
        cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
        conn = cls(self._host, self._port, timeout=self._timeout)
        self._local.conn = conn
        with self._lock:
            self._all.add(conn)
        return conn

    def _post(self, body: bytes, retry: bool) -> tuple[int, bytes]:
        for attempt in (0, 1):
            conn = self._connection(fresh=attempt == 1)
            reused = conn.sock is not None
            try:
                conn.request("POST", self._path, body, self._headers)
                resp = conn.getresponse()
                return resp.status, resp.read()
            except _STALE as exc:
                conn.close()
                if attempt == 0 and reused and retry:
                    continue
                raise ChainError(f"JSON-RPC node at {self.url} closed the connection: "
                                 f"{exc!r}") from exc
            except OSError as exc:  # refused, unreachable, timed out
                conn.close()
                raise ChainError(f"cannot reach JSON-RPC node at {self.url}: {exc!r}") from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def request(self, method: str, params: list[Any]) -> Any:
        """The call's `result`; a node error becomes `Web3RPCError` with the whole response (so
        revert data is decoded as from web3), a transport failure `ChainError`."""
        body = json.dumps({"jsonrpc": "2.0", "id": next(self._ids), "method": method,
                           "params": params}, separators=(",", ":")).encode()
        status, payload = self._post(body, retry=method not in NOT_RETRIED)
        try:
            resp = json.loads(payload)
        except ValueError:
            raise ChainError(f"{method}: the node answered HTTP {status} without JSON: "
                             f"{payload[:200]!r}") from None
        if not isinstance(resp, dict):
            raise ChainError(f"{method}: unexpected JSON-RPC answer {str(resp)[:200]}")
        if resp.get("error") is not None:
            raise Web3RPCError(str(resp["error"]), rpc_response=resp)  # type: ignore[arg-type]
        if status != 200:
            raise ChainError(f"{method}: the node answered HTTP {status}")
        return resp.get("result")

    def batch(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        """Several read calls in one HTTP request (a JSON-RPC batch): each call's result, or the
        `Web3RPCError` its error becomes, in the order given."""
        if not calls:
            return []
        # ids need only be unique within the batch
        body = json.dumps([{"jsonrpc": "2.0", "id": i, "method": m, "params": p}
                           for i, (m, p) in enumerate(calls)], separators=(",", ":")).encode()
        status, payload = self._post(body, retry=True)
        try:
            replies = json.loads(payload)
        except ValueError:
            raise ChainError(f"batch: the node answered HTTP {status} without JSON: "
                             f"{payload[:200]!r}") from None
        if not isinstance(replies, list):  # a node without batches answers with one error
            raise ChainError(f"batch: unexpected JSON-RPC answer {str(replies)[:200]}")
        by_id = {r.get("id"): r for r in replies if isinstance(r, dict)}
        out: list[Any] = []
        for i in range(len(calls)):
            r = by_id.get(i)
            if r is None:
                raise ChainError(f"batch: no answer to call {i} ({calls[i][0]})")
            out.append(Web3RPCError(str(r["error"]), rpc_response=r)  # type: ignore[arg-type]
                       if r.get("error") is not None else r.get("result"))
        return out

    def close(self) -> None:
        with self._lock:
            conns = list(self._all)
            self._all.clear()
        for conn in conns:
            conn.close()
