"""The lean JSON-RPC transport: answers, node errors, dropped keep-alive connections."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from web3.exceptions import Web3RPCError

from scf_chain.chain.anvil import AnvilChain
from scf_chain.chain.jsonrpc import HttpJsonRpc
from scf_chain.errors import ChainError


class _Node(BaseHTTPRequestHandler):
    """Answers eth_chainId; drops the connection, unanswered, on every second request it reads
    on one connection (what a node closing an idle keep-alive connection looks like)."""

    protocol_version = "HTTP/1.1"
    seen: list[tuple[str, str | None]] = []

    def setup(self) -> None:
        super().setup()
        self.count = 0

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.seen.append((body["method"], self.headers.get("Authorization")))
        self.count += 1
        if self.count == 2:
            self.close_connection = True
            self.wfile.flush()
            self.connection.close()
            return
        if body["method"] == "bad_json":
            out = b"<html>busy</html>"
        elif body["method"] == "fails":
            out = json.dumps({"jsonrpc": "2.0", "id": body["id"],
                              "error": {"code": 3, "message": "execution reverted",
                                        "data": "0x1234"}}).encode()
        else:
            out = json.dumps({"jsonrpc": "2.0", "id": body["id"], "result": "0x2a"}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture()
def node() -> Iterator[str]:
    _Node.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Node)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_a_read_on_a_dropped_keep_alive_connection_is_sent_again(node: str) -> None:
    rpc = HttpJsonRpc(node)
    assert rpc.request("eth_chainId", []) == "0x2a"
    assert rpc.request("eth_chainId", []) == "0x2a"  # dropped, then answered on a new one
    assert [m for m, _ in _Node.seen] == ["eth_chainId"] * 3
    rpc.close()


def test_a_broadcast_on_a_dropped_connection_is_not_sent_twice(node: str) -> None:
    rpc = HttpJsonRpc(node)
    rpc.request("eth_chainId", [])
    with pytest.raises(ChainError, match="closed the connection"):
        rpc.request("eth_sendRawTransaction", ["0x00"])
    assert [m for m, _ in _Node.seen] == ["eth_chainId", "eth_sendRawTransaction"]
    assert rpc.request("eth_chainId", []) == "0x2a"  # the next request takes a new connection


def test_node_errors_credentials_and_bad_answers(node: str) -> None:
    rpc = HttpJsonRpc(node.replace("http://", "http://alice:s%40cret@"))
    with pytest.raises(Web3RPCError) as err:
        rpc.request("fails", [])
    assert err.value.rpc_response["error"]["data"] == "0x1234"  # type: ignore[index]
    assert _Node.seen[0][1] == "Basic YWxpY2U6c0BjcmV0"  # alice:s@cret
    rpc.request("eth_chainId", [])  # second request on the connection: dropped and resent
    with pytest.raises(ChainError, match="without JSON"):
        rpc.request("bad_json", [])


def test_unreachable_nodes_and_bad_urls_are_chain_errors() -> None:
    with pytest.raises(ChainError, match="cannot reach"):
        HttpJsonRpc("http://127.0.0.1:9", timeout_s=2).request("eth_chainId", [])
    with pytest.raises(ChainError, match="not an http"):
        HttpJsonRpc("ws://127.0.0.1:8546")


@pytest.mark.anvil
def test_answers_from_a_real_node_match_web3(anvil_chain: AnvilChain) -> None:
    rpc = HttpJsonRpc(anvil_chain.rpc_url)
    assert int(rpc.request("eth_chainId", []), 16) == anvil_chain.chain_id()
    block = rpc.request("eth_getBlockByNumber", ["0x0", False])
    assert block["hash"] == "0x" + bytes(anvil_chain.w3.eth.get_block(0)["hash"]).hex()
    rpc.close()
