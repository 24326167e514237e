"""Logging set-up for every process: one JSON object (or a text line) per record, with the request id.

The gateway sets `request_id` for the life of each request (api/observe.py); every record logged
while that request runs, in any module and in the worker thread that runs a sync route, carries
it. Libraries' INFO chatter (alembic, httpx, web3, sqlalchemy, ...) stays off unless asked for.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from contextvars import ContextVar
from typing import Any, Literal

request_id: ContextVar[str | None] = ContextVar("scf_request_id", default=None)

# libraries that log at INFO on every run (nine alembic lines per keeper pass): WARNING unless
# verbose or debug
NOISY_LOGGERS = ("alembic", "httpx", "httpcore", "web3", "urllib3", "asyncio", "sqlalchemy",
                 "uvicorn.access")
# attributes every LogRecord has: anything else was passed as `extra=` and is logged as a field
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message", "asctime", "request_id", "rid",
    "color_message"}  # uvicorn's copy of the message with terminal colours

LogFormat = Literal["auto", "json", "text"]


class RequestIdFilter(logging.Filter):
    """Copies the current request id onto the record (None outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts (UTC, ISO 8601), level, logger, msg, request_id when inside a
    request, every `extra=` field, and the traceback as `exc`."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
                  + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        rid = getattr(record, "request_id", None)
        if rid is not None:
            out["request_id"] = rid
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value if isinstance(value, (str, int, float, bool, type(None))) \
                    else str(value)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """`time level logger [request id] message` for a person at a terminal."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s%(rid)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        rid = getattr(record, "request_id", None)
        record.rid = f" [{rid}]" if rid else ""
        return super().format(record)


_HANDLER_NAME = "scf"


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is at each record (a test runner or CliRunner swaps it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def configure(fmt: LogFormat = "auto", *, verbose: bool = False, debug: bool = False,
              level: int = logging.INFO) -> logging.Handler:
    """Install (or replace) the process's one stderr handler on the root logger.

    `auto` is JSON unless stderr is a terminal. Our own loggers log at `level`; the noisy
    libraries at WARNING (INFO with `verbose`, DEBUG with `debug`). Idempotent: calling it again
    swaps the handler instead of adding a second one.
    """
    root = logging.getLogger()
    for h in list(root.handlers):
        if h.get_name() == _HANDLER_NAME:
            root.removeHandler(h)
    handler = _StderrHandler()
    handler.set_name(_HANDLER_NAME)
    use_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    handler.setFormatter(JsonFormatter() if use_json else TextFormatter())
    handler.addFilter(RequestIdFilter())
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if debug else level)
    quiet_libraries(verbose=verbose, debug=debug)
    return handler


def quiet_libraries(*, verbose: bool = False, debug: bool = False) -> None:
    """Libraries' loggers at WARNING (INFO with `verbose`, DEBUG with `debug`)."""
    lib_level = logging.DEBUG if debug else logging.INFO if verbose else logging.WARNING
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(lib_level)
