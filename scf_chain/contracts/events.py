"""Decode raw logs of the system's contracts into named events (shared by clients, indexer, keeper)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Iterable

from eth_utils import event_abi_to_log_topic, to_checksum_address
from hexbytes import HexBytes
from web3._utils.events import get_event_data
from web3 import Web3

from scf_chain.contracts import artifacts


@dataclass(frozen=True)
class DecodedEvent:
    """One log, decoded. `args` values: ints, checksummed addresses, 0x-hex for bytes."""

    name: str
    address: str
    args: dict[str, Any]
    tx_hash: str
    log_index: int
    block_number: int
    block_hash: str = field(default="")


def _plain(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray, HexBytes)):
        return "0x" + bytes(value).hex()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


class EventDecoder:
    """topic0 -> event ABI for a set of contract ABIs. Anonymous events are not used by us."""

    def __init__(self, abis: Iterable[list[dict[str, Any]]]) -> None:
        # Several contracts may declare the same event (e.g. Transfer in ERC-721 and ERC-20 with
        # different indexing): keep every variant per topic and pick by topic count.
        self._by_topic: dict[bytes, list[dict[str, Any]]] = {}
        for abi in abis:
            for item in abi:
                if item.get("type") != "event" or item.get("anonymous"):
                    continue
                topic = bytes(event_abi_to_log_topic(item))
                indexed = sum(1 for i in item["inputs"] if i.get("indexed"))
                variants = self._by_topic.setdefault(topic, [])
                if all(sum(1 for i in v["inputs"] if i.get("indexed")) != indexed for v in variants):
                    variants.append(item)
        self._codec = Web3().codec

    def decode(self, log: Any) -> DecodedEvent | None:
        topics = log["topics"]
        if not topics:
            return None
        variants = self._by_topic.get(bytes(HexBytes(topics[0])))
        if not variants:
            return None
        for abi in variants:
            if sum(1 for i in abi["inputs"] if i.get("indexed")) + 1 != len(topics):
                continue
            data = get_event_data(self._codec, abi, log)
            args = {k: (to_checksum_address(v) if isinstance(v, str) and len(v) == 42
                        and v.startswith("0x") else _plain(v)) for k, v in data["args"].items()}
            return DecodedEvent(
                name=str(data["event"]),
                address=to_checksum_address(log["address"]),
                args=args,
                tx_hash="0x" + bytes(HexBytes(log["transactionHash"])).hex(),
                log_index=int(log["logIndex"]),
                block_number=int(log["blockNumber"]),
                block_hash="0x" + bytes(HexBytes(log["blockHash"])).hex() if log.get("blockHash") else "",
            )
        return None

    def decode_all(self, logs: Iterable[Any]) -> list[DecodedEvent]:
        return [e for e in (self.decode(log) for log in logs) if e is not None]


@lru_cache(maxsize=1)
def default_event_decoder() -> EventDecoder:
    return EventDecoder(artifacts.all_abis())
