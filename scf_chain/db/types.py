"""Column types: exact unsigned 256-bit integers and lowercase hex strings on PostgreSQL and SQLite."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import Dialect, Numeric, String
from sqlalchemy.types import TypeDecorator, TypeEngine

UINT_DIGITS = 78  # len(str(2**256 - 1))


class Uint256(TypeDecorator[int]):
    """A non-negative integer below 2**256, exact on every backend, read back as `int`.

    PostgreSQL: NUMERIC(78, 0). SQLite would turn integers above 2**63 into REAL, so there the
    value is stored as a zero-padded 78-digit string, which keeps equality, ordering and range
    queries correct (sums are done in Python).
    """

    impl = Numeric(UINT_DIGITS, 0)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(UINT_DIGITS))
        return dialect.type_descriptor(Numeric(UINT_DIGITS, 0, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        v = int(value)
        if v < 0 or v >= 2**256:
            raise ValueError(f"{v} is not a uint256")
        if dialect.name == "sqlite":
            return f"{v:0{UINT_DIGITS}d}"
        return Decimal(v)

    def process_result_value(self, value: Any, dialect: Dialect) -> int | None:
        if value is None:
            return None
        return int(value)

    @property
    def python_type(self) -> type[int]:
        return int


class Address(TypeDecorator[str]):
    """A 20-byte address, always stored and returned as lowercase 0x-hex."""

    impl = String(42)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else str(value).lower()

    @property
    def python_type(self) -> type[str]:
        return str


class Hex32(TypeDecorator[str]):
    """A 32-byte value (hash, root, key), always stored and returned as lowercase 0x-hex."""

    impl = String(66)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if isinstance(value, (bytes, bytearray)):
            return "0x" + bytes(value).hex()
        return str(value).lower()

    @property
    def python_type(self) -> type[str]:
        return str
