"""Private files and folders (0600/0700 from the first byte) and the one-process lock of a data folder."""

from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import Iterable
from pathlib import Path

from scf_chain.errors import DataDirLocked

log = logging.getLogger("scf_chain.files")

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700
LOCK_NAME = "gateway.lock"


def tighten(path: Path, mode: int) -> None:
    """Drop any permission bit of `path` beyond `mode` (files we made before modes were enforced).

    A path we do not own is left alone with a warning: chmod would fail, and the operator who
    set it up decided its modes.
    """
    try:
        st = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return
    if st.st_mode & 0o777 & ~mode == 0:
        return
    if st.st_uid != os.geteuid():
        log.warning("%s is readable beyond its owner (mode %o) and not ours to chmod",
                    path, st.st_mode & 0o777)
        return
    os.chmod(path, st.st_mode & 0o777 & mode, follow_symlinks=False)


def private_dir(path: Path) -> Path:
    """Create `path` and any missing parent 0700 (os.makedirs gives parents the umask's mode);
    an existing `path` of ours is tightened to 0700."""
    path = Path(path)
    missing: list[Path] = []
    p = path
    while not p.exists():
        missing.append(p)
        if p.parent == p:
            break
        p = p.parent
    for d in reversed(missing):
        try:
            os.mkdir(d, PRIVATE_DIR)  # umask can only remove bits: never looser than 0700
        except FileExistsError:
            pass  # made meanwhile by a concurrent starter
    tighten(path, PRIVATE_DIR)
    return path


def create_private_file(path: Path) -> bool:
    """Create an empty 0600 file if none exists (so that what is written later is never more
    readable, e.g. a SQLite database whose -wal and -shm files copy its mode). True if created."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, PRIVATE_FILE)
    except FileExistsError:
        return False
    os.close(fd)
    return True


def write_private(path: Path, data: bytes) -> None:
    """Write a secret once: a 0600 temporary file, fsynced, then linked into place.

    The file never exists with another mode, nor half-written under its name (a crash leaves
    only the temporary file); FileExistsError if `path` exists (nothing is overwritten).
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)  # a stale one from a crash, possibly with a looser mode
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, PRIVATE_FILE)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


class DataDirLock:
    """An exclusive flock on `<folder>/gateway.lock` for each folder, held until `release()` or
    the process ends (the kernel drops it even on SIGKILL: no stale lock to clean up).

    The file records the holder's pid, so the refusal names it.
    """

    def __init__(self, folders: Iterable[Path]) -> None:
        self._fds: list[int] = []
        seen: set[Path] = set()
        try:
            for folder in folders:
                real = Path(folder).resolve()
                if real in seen:
                    continue
                seen.add(real)
                self._take(private_dir(real) / LOCK_NAME, folder)
        except BaseException:
            self.release()
            raise

    def _take(self, lock_file: Path, folder: Path) -> None:
        fd = os.open(lock_file, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, PRIVATE_FILE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise DataDirLocked(
                f"another gateway (pid {holder}) is running on {folder} (lock {lock_file}): one "
                "gateway per keystore, since it hands out transaction nonces in memory; stop it, "
                "or give this one its own SCF_DATA_DIR and SCF_KEYSTORE_PATH") from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fds.append(fd)

    @property
    def held(self) -> bool:
        return bool(self._fds)

    def release(self) -> None:
        fds, self._fds = self._fds, []
        for fd in fds:
            os.close(fd)  # closing the only descriptor drops the flock


__all__ = ["LOCK_NAME", "PRIVATE_DIR", "PRIVATE_FILE", "DataDirLock", "DataDirLocked",
           "create_private_file", "private_dir", "tighten", "write_private"]
