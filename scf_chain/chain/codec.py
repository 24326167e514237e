"""ABI calls without web3's per-call work: selectors, types and argument converters built once.

web3's `Contract` re-validates the whole ABI (a keccak per function) when it is made, and each
`ContractFunction` looks its ABI entry up again and checksums every address argument. On the
gateway's write path that was a fifth of the CPU per request. `AbiContract` prepares each
function once per ABI (cached) and encodes with eth_abi directly; the output is byte-identical
calldata (tested against web3).

`checksum` is an LRU-cached EIP-55 conversion: the same few hundred addresses recur in every
request and every log, and each conversion is a keccak.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_utils import function_signature_to_4byte_selector, to_checksum_address
from hexbytes import HexBytes

from scf_chain.chain.base import http_transport
from scf_chain.errors import ChainError


@lru_cache(maxsize=1 << 16)
def _checksum_lower(lower: str) -> str:
    return to_checksum_address(lower)


def checksum(address: str | bytes) -> str:
    """EIP-55 form of an address (hex string of any case, or 20 bytes); raises ValueError."""
    if isinstance(address, (bytes, bytearray)):
        if len(address) != 20:
            raise ValueError(f"an address is 20 bytes, got {len(address)}")
        return _checksum_lower("0x" + bytes(address).hex())
    if not isinstance(address, str):
        raise ValueError(f"not an address: {address!r}")
    return _checksum_lower(address.lower() if address[:2] in ("0x", "0X") else "0x" + address.lower())


def abi_type(param: dict[str, Any]) -> str:
    """The canonical type string of an ABI parameter (tuples spelled out)."""
    t = str(param["type"])
    if t.startswith("tuple"):
        inner = ",".join(abi_type(c) for c in param.get("components", []))
        return f"({inner}){t[5:]}"
    return t


def _converter(type_str: str) -> Callable[[Any], Any]:
    """A function bringing a Python argument into the form eth_abi encodes fastest and exactly."""
    if type_str.endswith("]"):
        inner = _converter(type_str[: type_str.rindex("[")])
        return lambda v: [inner(x) for x in v]
    if type_str.startswith("("):
        parts = _split_tuple(type_str[1:-1])
        convs = [_converter(p) for p in parts]
        return lambda v: tuple(c(x) for c, x in zip(convs, v, strict=True))
    if type_str == "address":
        def address(v: Any) -> Any:
            if isinstance(v, str):
                raw = v[2:] if v[:2] in ("0x", "0X") else v
                if len(raw) != 40:
                    raise ValueError(f"not an address: {v!r}")
                return bytes.fromhex(raw)
            return v
        return address
    if type_str.startswith("bytes"):
        return lambda v: bytes(HexBytes(v)) if isinstance(v, str) else v
    return lambda v: v


def _out_converter(type_str: str) -> Callable[[Any], Any] | None:
    """How a decoded value is shown as web3 shows it (addresses checksummed); None: as decoded."""
    if type_str.endswith("]"):
        inner = _out_converter(type_str[: type_str.rindex("[")])
        return None if inner is None else (lambda v: [inner(x) for x in v])
    if type_str.startswith("("):
        convs = [_out_converter(p) for p in _split_tuple(type_str[1:-1])]
        if all(c is None for c in convs):
            return None
        return lambda v: tuple(x if c is None else c(x) for c, x in zip(convs, v, strict=True))
    if type_str == "address":
        return checksum
    return None


def _split_tuple(body: str) -> list[str]:
    out, depth, start = [], 0, 0
    for i, ch in enumerate(body):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append(body[start:i])
            start = i + 1
    if body:
        out.append(body[start:])
    return out


@dataclass(frozen=True)
class AbiFunction:
    name: str
    signature: str
    selector: bytes
    input_types: tuple[str, ...]
    output_types: tuple[str, ...]
    converters: tuple[Callable[[Any], Any], ...]
    out_converters: tuple[Callable[[Any], Any] | None, ...]

    def encode(self, args: Sequence[Any]) -> bytes:
        if len(args) != len(self.input_types):
            raise ValueError(f"{self.signature} takes {len(self.input_types)} arguments, "
                             f"got {len(args)}")
        try:
            values = [c(a) for c, a in zip(self.converters, args, strict=True)]
            return self.selector + abi_encode(list(self.input_types), values)
        except (TypeError, ValueError, OverflowError) as exc:
            raise ValueError(f"cannot encode {self.signature}: {exc}") from exc
        except Exception as exc:  # eth_abi's EncodingError family
            raise ValueError(f"cannot encode {self.signature}: {exc}") from exc

    def decode_output(self, data: bytes) -> Any:
        values = [v if c is None else c(v) for c, v in
                  zip(self.out_converters, abi_decode(list(self.output_types), data), strict=True)]
        return values[0] if len(values) == 1 else values


_PREPARED: dict[int, tuple[Any, dict[str, list[AbiFunction]], dict[str, AbiFunction]]] = {}
_PREPARED_LOCK = threading.Lock()


def _prepare(abi: Sequence[dict[str, Any]]) -> tuple[dict[str, list[AbiFunction]],
                                                    dict[str, AbiFunction]]:
    """Functions of `abi` by name and by signature; cached per ABI object (artifacts are loaded
    once and never mutated; the cache keeps the object alive so its id stays unique)."""
    hit = _PREPARED.get(id(abi))
    if hit is not None and hit[0] is abi:
        return hit[1], hit[2]
    by_name: dict[str, list[AbiFunction]] = {}
    by_sig: dict[str, AbiFunction] = {}
    for item in abi:
        if item.get("type") != "function":
            continue
        ins = tuple(abi_type(p) for p in item.get("inputs", []))
        outs = tuple(abi_type(p) for p in item.get("outputs", []))
        sig = f"{item['name']}({','.join(ins)})"
        fn = AbiFunction(item["name"], sig, bytes(function_signature_to_4byte_selector(sig)), ins,
                         outs, tuple(_converter(t) for t in ins),
                         tuple(_out_converter(t) for t in outs))
        by_name.setdefault(item["name"], []).append(fn)
        by_sig[sig] = fn
    with _PREPARED_LOCK:
        if len(_PREPARED) > 64:
            _PREPARED.clear()
        _PREPARED[id(abi)] = (abi, by_name, by_sig)
    return by_name, by_sig


class ContractCall:
    """One prepared call: `address` and `data` to send, or `call()` to run it as a view."""

    __slots__ = ("_contract", "fn", "address", "data")

    def __init__(self, contract: AbiContract, fn: AbiFunction, args: Sequence[Any]) -> None:
        self._contract = contract
        self.fn = fn
        self.address = contract.address
        self.data = fn.encode(args)

    def _encode_transaction_data(self) -> str:  # the name web3's ContractFunction uses
        return "0x" + self.data.hex()

    def call(self, params: dict[str, Any] | None = None, block: Any = "latest") -> Any:
        w3 = self._contract.w3
        transport = http_transport(w3)
        if transport is not None:  # straight to the node, without web3's formatters
            wire: dict[str, Any] = {"to": self.address, "data": "0x" + self.data.hex()}
            if params and params.get("from"):
                wire["from"] = params["from"]
            tag = hex(block) if isinstance(block, int) else block
            out = transport.request("eth_call", [wire, tag])
            return self.fn.decode_output(bytes.fromhex(str(out)[2:]))
        tx = dict(params or {})
        tx["to"] = self.address
        tx["data"] = HexBytes(self.data)
        out = w3.eth.call(tx, block)  # type: ignore[arg-type]
        return self.fn.decode_output(bytes(out))


class _Functions:
    def __init__(self, contract: AbiContract) -> None:
        self._contract = contract

    def __getattr__(self, name: str) -> Callable[..., ContractCall]:
        overloads = self._contract._by_name.get(name)
        if not overloads:
            raise AttributeError(f"contract has no function {name!r}")

        def build(*args: Any) -> ContractCall:
            matches = [f for f in overloads if len(f.input_types) == len(args)]
            if len(matches) != 1:
                raise ChainError(f"{name} with {len(args)} arguments is ambiguous or unknown: "
                                 "use get_function_by_signature")
            return ContractCall(self._contract, matches[0], args)

        return build


class AbiContract:
    """A deployed contract's functions, prepared once per ABI."""

    def __init__(self, w3: Any, address: str, abi: Sequence[dict[str, Any]]) -> None:
        self.w3 = w3
        self.address = checksum(address)
        self._by_name, self._by_sig = _prepare(abi)
        self.functions = _Functions(self)

    def get_function_by_signature(self, signature: str) -> Callable[..., ContractCall]:
        fn = self._by_sig.get(signature.replace(" ", ""))
        if fn is None:
            raise ChainError(f"contract has no function {signature}")
        return lambda *args: ContractCall(self, fn, args)
