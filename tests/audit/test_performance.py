"""A 10,000-token receivable through ingestion (decode + fold + commit) and the trace, on both
stores. The timings are printed for information only: speed targets are checked by
scripts/bench_api.py (reports/bench_api.md), not by a timed test on a shared machine."""

from __future__ import annotations

import time
from typing import Any

from eth_abi import encode
from eth_utils import event_abi_to_log_topic, keccak
from hexbytes import HexBytes

from scf_chain.audit import trace_receivable
from scf_chain.contracts import artifacts
from scf_chain.contracts.encoding import token_id_of
from scf_chain.contracts.events import default_event_decoder
from scf_chain.db.models import IndexerCursor
from scf_chain.indexer import EventRecord, Projector

TOKEN = "0x" + "11" * 20
TOKENS = 10_000

_ABI = {e["name"]: e for e in artifacts.load("ReceivableToken").abi if e["type"] == "event"}


class _Logs:
    """ABI-encoded logs of the receivable token, as eth_getLogs returns them."""

    def __init__(self) -> None:
        self.logs: list[dict[str, Any]] = []
        self.block = 1
        self.index = 0

    def emit(self, name: str, **args: Any) -> None:
        abi = _ABI[name]
        topics = [HexBytes(event_abi_to_log_topic(abi))]
        types, values = [], []
        for inp in abi["inputs"]:
            if inp["indexed"]:
                topics.append(HexBytes(encode([inp["type"]], [args[inp["name"]]])))
            else:
                types.append(inp["type"])
                values.append(args[inp["name"]])
        self.logs.append({
            "address": TOKEN, "topics": topics, "data": HexBytes(encode(types, values)),
            "blockNumber": self.block, "blockHash": HexBytes(keccak(self.block.to_bytes(8, "big"))),
            "transactionHash": HexBytes(keccak(b"tx" + self.block.to_bytes(8, "big"))),
            "transactionIndex": 0, "logIndex": self.index, "removed": False,
        })
        self.index += 1

    def next_tx(self) -> None:
        self.block += 1
        self.index = 0


def _synthetic_receivable(holders: list[str]) -> tuple[list[dict[str, Any]], int, int]:
    """A confirmed receivable split into TOKENS tokens as a binary tree (one split per block)."""
    out = _Logs()
    slot, face = 1, 3**40
    debtor, creditor = holders[0], holders[1]
    out.emit("Applied", slot=slot, debtor=debtor, creditor=creditor, faceValue=face,
             maturity=2_000_000_000, invoiceKey=b"\x01" * 32, evidenceRoot=b"\x02" * 32,
             initiatedByDebtor=False)
    out.next_tx()
    root = token_id_of(slot, 1)
    out.emit("Transfer", **{"from": "0x" + "00" * 20, "to": creditor, "tokenId": root})
    out.emit("SlotChanged", _tokenId=root, _oldSlot=0, _newSlot=slot)
    out.emit("TransferValue", _fromTokenId=0, _toTokenId=root, _value=face)
    out.emit("Confirmed", slot=slot, debtor=debtor, creditor=creditor, tokenId=root, faceValue=face)
    values = {root: face}
    ids = [root]
    for serial in range(2, TOKENS + 1):
        out.next_tx()
        parent = ids[(serial - 2) // 2]
        tid = token_id_of(slot, serial)
        v = values[parent] // 3
        values[parent] -= v
        values[tid] = v
        ids.append(tid)
        to = holders[serial % len(holders)]
        out.emit("Transfer", **{"from": "0x" + "00" * 20, "to": to, "tokenId": tid})
        out.emit("SlotChanged", _tokenId=tid, _oldSlot=0, _newSlot=slot)
        out.emit("TransferValue", _fromTokenId=parent, _toTokenId=tid, _value=v)
    return out.logs, slot, face


def test_a_10k_token_receivable_ingests_and_traces_whole(store, record_property) -> None:  # type: ignore[no-untyped-def]
    holders = ["0x" + f"{i:040x}" for i in range(1, 51)]
    logs, slot, face = _synthetic_receivable(holders)
    decoder = default_event_decoder()
    batch = 5_000
    started = time.perf_counter()
    for i in range(0, len(logs), batch):
        part = logs[i:i + batch]
        records = []
        for lg in part:
            ev = decoder.decode(lg)
            assert ev is not None
            records.append(EventRecord(
                ev.name, ev.address.lower(), ev.args, ev.tx_hash, ev.log_index, ev.block_number,
                ev.block_hash, 1_700_000_000 + ev.block_number,
                {"settlementToken": "0x" + "22" * 20} if ev.name == "Applied" else None))
        with store.sessions() as s, s.begin():
            Projector(s, TOKEN, frozenset()).apply(records)
            cur = s.get(IndexerCursor, "default")
            if cur is None:
                s.add(IndexerCursor(name="default", last_block=records[-1].block_number,
                                    last_block_hash=records[-1].block_hash))
            else:
                cur.last_block = records[-1].block_number
    elapsed = time.perf_counter() - started
    rate = len(logs) / elapsed
    record_property("events_per_s", round(rate))
    print(f"\n[{store.dialect}] ingested {len(logs)} events in {elapsed:.2f}s: {rate:.0f} events/s")

    with store.sessions() as s:
        trace_receivable(s, slot)  # warm-up: connection, statement cache
    timings = []
    for _ in range(5):
        with store.sessions() as s:
            t0 = time.perf_counter()
            t = trace_receivable(s, slot)
            timings.append(time.perf_counter() - t0)
    best, median = min(timings), sorted(timings)[len(timings) // 2]
    print(f"[{store.dialect}] trace of {t.token_count} tokens: median {median * 1000:.1f} ms, "
          f"best {best * 1000:.1f} ms")
    record_property("trace_ms", round(median * 1000, 1))
    assert t.token_count == TOKENS
    assert sum(n.value for n in t.nodes()) == face
    assert sum(1 for _ in t.nodes()) == TOKENS  # every token reachable from the confirmed one
