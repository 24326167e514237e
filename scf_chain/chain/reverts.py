"""Turn revert data into typed exceptions named after the Solidity custom error.

`decode_revert(data)` maps the 4-byte selector to an error from every committed ABI, decodes
its arguments by name and raises an instance of a `ContractRevert` subclass of that name, so
callers can write `except reverts.NotDebtor:` (classes are made on first use and cached).

The names are a closed list: the custom errors of the committed ABIs (`errors.json`, generated
by `scf build-contracts`) plus the few this module makes itself (SYNTHETIC_ERRORS). Any other
name is refused, so a misspelt `except reverts.NotDebtr:` fails at once instead of never matching.
"""

from __future__ import annotations

import ast
import threading
from dataclasses import dataclass
from typing import Any, Iterable

from eth_abi import decode as abi_decode
from eth_utils import keccak, to_checksum_address

from scf_chain.contracts.artifacts import all_abis, canonical_type, contract_errors
from scf_chain.errors import ArtifactError, ContractRevert

ERROR_STRING_SELECTOR = bytes.fromhex("08c379a0")
PANIC_SELECTOR = bytes.fromhex("4e487b71")

PANIC_CODES = {
    0x00: "generic compiler panic",
    0x01: "assert failed",
    0x11: "arithmetic overflow or underflow",
    0x12: "division or modulo by zero",
    0x21: "invalid enum value",
    0x22: "bad storage byte array",
    0x31: "pop on empty array",
    0x32: "array index out of bounds",
    0x41: "out of memory",
    0x51: "call to a zero-initialised function",
}

# Reverts that are no custom error of an ABI: a bare revert, a reason string, a panic, an
# unknown selector, a transaction that ran out of gas.
SYNTHETIC_ERRORS = frozenset({"EmptyRevert", "Error", "Panic", "UnknownError", "OutOfGas"})
CONTRACT_ERRORS = frozenset(contract_errors())
KNOWN_ERRORS = CONTRACT_ERRORS | SYNTHETIC_ERRORS

_classes: dict[str, type[ContractRevert]] = {}
_classes_lock = threading.Lock()


def revert_class(name: str) -> type[ContractRevert]:
    """The exception class for error `name` (same class every time); unknown names raise."""
    if name not in KNOWN_ERRORS:
        raise AttributeError(
            f"no contract error named {name!r}: not in any committed ABI "
            "(scf_chain/contracts/artifacts/errors.json)"
        )
    with _classes_lock:
        cls = _classes.get(name)
        if cls is None:
            cls = type(name, (ContractRevert,), {"error_name": name, "__module__": __name__})
            _classes[name] = cls
        return cls


def __getattr__(name: str) -> type[ContractRevert]:
    # PEP 562: `from scf_chain.chain.reverts import NotDebtor` works for every known error name.
    if name in KNOWN_ERRORS:
        return revert_class(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r} (no such contract error)")


@dataclass(frozen=True)
class ErrorSpec:
    name: str
    types: tuple[str, ...]
    arg_names: tuple[str, ...]


def _normalise(value: Any, typ: str) -> Any:
    if typ == "address":
        return to_checksum_address(value)
    if typ.startswith("bytes") and isinstance(value, (bytes, bytearray)):
        return "0x" + bytes(value).hex()
    return value


class ErrorDecoder:
    """Selector table built from ABIs (all committed artifacts by default)."""

    def __init__(self, abis: Iterable[list[dict[str, Any]]]) -> None:
        self._specs: dict[bytes, ErrorSpec] = {}
        for abi in abis:
            for item in abi:
                if item.get("type") != "error":
                    continue
                if item["name"] not in KNOWN_ERRORS:
                    raise ArtifactError(
                        f"ABI error {item['name']} is not in the generated error list: "
                        "run `scf build-contracts`"
                    )
                types = tuple(canonical_type(i) for i in item.get("inputs", []))
                names = tuple(i.get("name") or f"arg{n}" for n, i in enumerate(item.get("inputs", [])))
                sig = f"{item['name']}({','.join(types)})"
                self._specs[keccak(text=sig)[:4]] = ErrorSpec(item["name"], types, names)

    def known(self) -> list[str]:
        return sorted({s.name for s in self._specs.values()})

    def decode(self, data: bytes, tx_hash: str | None = None) -> ContractRevert:
        """An exception instance for this revert data (not raised)."""
        if len(data) < 4:
            return revert_class("EmptyRevert")(
                "EmptyRevert", {}, "reverted without data (out of gas, or a bare revert)", tx_hash
            )
        selector, body = data[:4], data[4:]
        if selector == ERROR_STRING_SELECTOR:
            (reason,) = abi_decode(["string"], body)
            return revert_class("Error")("Error", {"reason": reason}, reason, tx_hash)
        if selector == PANIC_SELECTOR:
            (code,) = abi_decode(["uint256"], body)
            text = PANIC_CODES.get(code, "unknown panic")
            return revert_class("Panic")("Panic", {"code": code}, f"Panic(0x{code:02x}): {text}", tx_hash)
        spec = self._specs.get(selector)
        if spec is None:
            return revert_class("UnknownError")(
                "UnknownError", {"selector": "0x" + selector.hex(), "data": "0x" + body.hex()},
                None, tx_hash,
            )
        values = abi_decode(list(spec.types), body)
        args = {n: _normalise(v, t) for n, v, t in zip(spec.arg_names, values, spec.types,
                                                       strict=True)}
        return revert_class(spec.name)(spec.name, args, None, tx_hash)


_default: ErrorDecoder | None = None


def default_decoder() -> ErrorDecoder:
    global _default
    if _default is None:
        _default = ErrorDecoder(all_abis())
    return _default


def revert_data_from_exception(exc: BaseException) -> bytes | None:
    """Raw revert data from a web3 / eth-tester exception, or None when it carries none.

    web3 (JSON-RPC nodes) puts hex data on `.data`; eth-tester raises TransactionFailed with
    "execution reverted: b'...'" for custom errors and "execution reverted: <reason>" for strings.
    """
    data = getattr(exc, "data", None)
    if isinstance(data, str) and data.startswith("0x"):
        return bytes.fromhex(data[2:])
    if isinstance(data, dict):
        inner = data.get("data")
        if isinstance(inner, str) and inner.startswith("0x"):
            return bytes.fromhex(inner[2:])
    rpc_response = getattr(exc, "rpc_response", None)  # web3's Web3RPCError from a raw request
    if isinstance(rpc_response, dict) and isinstance(rpc_response.get("error"), dict):
        err = rpc_response["error"]
        inner = err.get("data")
        if isinstance(inner, dict):  # some nodes nest it: {"data": {"data": "0x.."}}; ganache's
            # gas estimates as {"data": {"result": "0x..", "reason": .., "programCounter": ..}}
            inner = inner.get("data", inner.get("result"))
        if isinstance(inner, str) and inner.startswith("0x"):
            try:
                return bytes.fromhex(inner[2:])
            except ValueError:
                pass
        message = str(err.get("message", "")).lower()
        if err.get("code") == 3 or "revert" in message:
            return b""
        return None
    if type(exc).__name__ == "TransactionFailed" and exc.args:
        msg = str(exc.args[0])
        prefix = "execution reverted: "
        if msg.startswith(prefix):
            rest = msg[len(prefix):]
            if rest.startswith(("b'", 'b"')):
                try:
                    value = ast.literal_eval(rest)
                    if isinstance(value, bytes):
                        return value
                except (ValueError, SyntaxError):
                    pass
            from eth_abi import encode as abi_encode

            return ERROR_STRING_SELECTOR + abi_encode(["string"], [rest])
        if msg in ("execution reverted", "Reverted", "revert"):
            return b""
    return None


def to_revert(exc: BaseException, decoder: ErrorDecoder | None = None,
              tx_hash: str | None = None) -> ContractRevert | None:
    """The typed revert for a web3/eth-tester exception, or None if it was no revert."""
    data = revert_data_from_exception(exc)
    if data is None:
        return None
    return (decoder or default_decoder()).decode(data, tx_hash)
