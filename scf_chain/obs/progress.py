"""A progress bar for long CLI work (index catch-up, deploy), drawn only when stderr is a terminal.

Redirected to a file or a pipe (CI, logs, tests) it draws nothing, so output stays one line per
result and no carriage returns end up in logs.
"""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import TextIO

_WIDTH = 30


class Progress:
    """`with Progress(total, "indexing") as bar: bar.update(done, note)`; a no-op off a TTY."""

    def __init__(self, total: int, label: str, stream: TextIO | None = None,
                 min_interval_s: float = 0.1) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.total, self.label = max(1, total), label
        self.enabled = bool(getattr(self.stream, "isatty", lambda: False)())
        self.min_interval_s = min_interval_s
        self._drawn_at = 0.0
        self._drawn = False

    def line(self, done: int, note: str = "") -> str:
        done = min(max(done, 0), self.total)
        filled = _WIDTH * done // self.total
        bar = "#" * filled + "-" * (_WIDTH - filled)
        return f"{self.label} [{bar}] {done}/{self.total}{'  ' + note if note else ''}"

    def update(self, done: int, note: str = "", force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._drawn_at < self.min_interval_s and done < self.total:
            return
        self._drawn_at = now
        self.stream.write("\r\x1b[2K" + self.line(done, note))
        self.stream.flush()
        self._drawn = True

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.enabled and self._drawn:  # leave the terminal on a fresh line for what follows
            self.stream.write("\r\x1b[2K")
            self.stream.flush()
