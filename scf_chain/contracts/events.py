"""Decode raw logs of the system's contracts into named events (shared by clients, indexer, keeper)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Iterable

from eth_abi import decode as abi_decode
from eth_utils import event_abi_to_log_topic
from hexbytes import HexBytes

from scf_chain.chain.codec import abi_type, checksum
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
    if isinstance(value, str) and len(value) == 42 and value.startswith("0x"):
        return checksum(value)
    return value


def _hex32(value: Any) -> str:
    if isinstance(value, str):
        return value.lower() if value.startswith("0x") else "0x" + value.lower()
    return "0x" + bytes(value).hex()


def _raw(value: Any) -> bytes:
    if isinstance(value, str):
        return bytes.fromhex(value[2:] if value.startswith("0x") else value)
    return bytes(value)


def _int(value: Any) -> int:
    return int(value, 16) if isinstance(value, str) else int(value)


_DYNAMIC = ("string", "bytes")


def _is_dynamic(type_str: str) -> bool:
    return type_str in _DYNAMIC or type_str.endswith("]") or type_str.startswith("(")


class _NotCanonical(ValueError):
    """A word the fast path will not decode (bad padding or out of range): eth_abi decides."""


def _word_decoder(type_str: str) -> Any:
    """A strict decoder of one 32-byte word for static elementary types (None for anything
    else). eth_abi's general decoder (streams, pointer validation) is most of the indexer's
    decode time; these accept exactly what eth_abi accepts and give the same values (tested
    against web3); any other word raises `_NotCanonical` and goes to eth_abi."""
    def uint(bits: int) -> Any:
        def dec(w: bytes) -> int:
            v = int.from_bytes(w[:32], "big")
            if len(w) < 32 or v >> bits:
                raise _NotCanonical(type_str)
            return v
        return dec

    def sint(bits: int) -> Any:
        def dec(w: bytes) -> int:
            v = int.from_bytes(w[:32], "big", signed=True)
            if len(w) < 32 or not -(1 << (bits - 1)) <= v < (1 << (bits - 1)):
                raise _NotCanonical(type_str)
            return v
        return dec

    if type_str == "address":
        def address(w: bytes) -> str:
            if len(w) < 32 or any(w[:12]):
                raise _NotCanonical(type_str)
            return checksum(bytes(w[12:32]))
        return address
    if type_str == "bool":
        def boolean(w: bytes) -> bool:
            v = int.from_bytes(w[:32], "big")
            if len(w) < 32 or v > 1:
                raise _NotCanonical(type_str)
            return v == 1
        return boolean
    if type_str.startswith("uint") and type_str[4:].isdigit():
        return uint(int(type_str[4:]))
    if type_str.startswith("int") and type_str[3:].isdigit():
        return sint(int(type_str[3:]))
    if type_str.startswith("bytes") and type_str[5:].isdigit():
        size = int(type_str[5:])

        def fixed(w: bytes) -> str:
            if len(w) < 32 or any(w[size:32]):
                raise _NotCanonical(type_str)
            return "0x" + bytes(w[:size]).hex()
        return fixed
    return None


@dataclass(frozen=True)
class _EventLayout:
    """One event ABI, prepared: where each argument comes from and how it decodes."""

    name: str
    topic_count: int
    indexed: tuple[tuple[str, str], ...]  # (name, type) in topic order
    data_names: tuple[str, ...]
    data_types: tuple[str, ...]
    order: tuple[str, ...]  # argument names in declaration order
    topic_decoders: tuple[Any, ...] = ()
    word_decoders: tuple[Any, ...] | None = None  # when every data field is one static word

    @classmethod
    def of(cls, item: dict[str, Any]) -> _EventLayout:
        indexed = tuple((str(i["name"]), abi_type(i)) for i in item["inputs"] if i.get("indexed"))
        data = [(str(i["name"]), abi_type(i)) for i in item["inputs"] if not i.get("indexed")]
        words = tuple(_word_decoder(t) for _, t in data)
        return cls(str(item["name"]), len(indexed) + 1, indexed, tuple(n for n, _ in data),
                   tuple(t for _, t in data), tuple(str(i["name"]) for i in item["inputs"]),
                   tuple(_word_decoder(t) for _, t in indexed),
                   words if all(w is not None for w in words) else None)

    def decode_args(self, topics: list[Any], data: bytes) -> dict[str, Any]:
        try:
            return self._decode(topics, data, fast=True)
        except _NotCanonical:
            return self._decode(topics, data, fast=False)

    def _decode(self, topics: list[Any], data: bytes, fast: bool) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for (name, type_str), dec, topic in zip(self.indexed, self.topic_decoders, topics[1:],
                                                strict=True):
            if _is_dynamic(type_str):  # the topic holds the value's hash, as in web3
                values[name] = _hex32(topic)
            elif fast and dec is not None:
                values[name] = dec(_raw(topic))
            else:
                values[name] = _plain(abi_decode([type_str], _raw(topic))[0])
        if (fast and self.word_decoders is not None
                and len(data) == 32 * len(self.word_decoders)):
            for i, (name, dec) in enumerate(zip(self.data_names, self.word_decoders,
                                                strict=True)):
                values[name] = dec(data[32 * i:32 * i + 32])
        elif self.data_types:
            for name, value in zip(self.data_names, abi_decode(list(self.data_types), data),
                                   strict=True):
                values[name] = _plain(value)
        return {n: values[n] for n in self.order}


class EventDecoder:
    """topic0 -> event layout for a set of contract ABIs. Anonymous events are not used by us.

    Decodes with eth_abi directly from layouts prepared once (web3's `get_event_data` recomputes
    the event topic, a keccak, for every log); values are as web3 gives them, with addresses
    checksummed and bytes as 0x-hex.
    """

    def __init__(self, abis: Iterable[list[dict[str, Any]]]) -> None:
        # Several contracts may declare the same event (e.g. Transfer in ERC-721 and ERC-20 with
        # different indexing): keep every variant per topic and pick by topic count.
        self._by_topic: dict[bytes, list[_EventLayout]] = {}
        for abi in abis:
            for item in abi:
                if item.get("type") != "event" or item.get("anonymous"):
                    continue
                topic = bytes(event_abi_to_log_topic(item))  # type: ignore[arg-type]
                layout = _EventLayout.of(item)
                variants = self._by_topic.setdefault(topic, [])
                if all(v.topic_count != layout.topic_count for v in variants):
                    variants.append(layout)

    def decode(self, log: Any) -> DecodedEvent | None:
        topics = log["topics"]
        if not topics:
            return None
        variants = self._by_topic.get(_raw(topics[0]))
        if not variants:
            return None
        for layout in variants:
            if layout.topic_count != len(topics):
                continue
            block_hash = log.get("blockHash")
            return DecodedEvent(
                name=layout.name,
                address=checksum(log["address"]),
                args=layout.decode_args(list(topics), _raw(log["data"])),
                tx_hash=_hex32(log["transactionHash"]),
                log_index=_int(log["logIndex"]),
                block_number=_int(log["blockNumber"]),
                block_hash=_hex32(block_hash) if block_hash else "",
            )
        return None

    def decode_all(self, logs: Iterable[Any]) -> list[DecodedEvent]:
        return [e for e in (self.decode(log) for log in logs) if e is not None]


@lru_cache(maxsize=1)
def default_event_decoder() -> EventDecoder:
    return EventDecoder(artifacts.all_abis())
