"""RFC 8785 canonical JSON, with a fast path for the plain values trade documents hold."""

from __future__ import annotations

import json
from typing import Any

import rfc8785

SAFE_INT = 2**53


def _plain(v: Any) -> bool:
    """ASCII strings, safe integers, booleans, null, and lists/objects of them (ASCII keys)."""
    if v is None or isinstance(v, bool):
        return True
    if isinstance(v, int):
        return -SAFE_INT < v < SAFE_INT
    if isinstance(v, str):
        return v.isascii()
    if isinstance(v, list):
        return all(_plain(x) for x in v)
    if isinstance(v, dict):
        return all(isinstance(k, str) and k.isascii() and _plain(x) for k, x in v.items())
    return False


def dumps(value: Any) -> bytes:
    """The RFC 8785 serialization of `value`.

    For plain values (see `_plain`) Python's compact, key-sorted JSON is byte-identical to RFC
    8785: ASCII keys sort the same by code point as by UTF-16 unit, integers print the same, and
    both escape exactly ", \\ and control characters, in the same forms (a property test checks
    this against the reference implementation). Anything else goes to `rfc8785`.
    """
    if _plain(value):
        return json.dumps(value, sort_keys=True, separators=(",", ":"),
                          ensure_ascii=False).encode()
    return rfc8785.dumps(value)
