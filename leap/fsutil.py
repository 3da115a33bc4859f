"""File-system helpers every part shares: durable atomic writes, checksums and file locks.

- :func:`atomic_target` / :func:`write_atomic`: readers see the old or the new content of a file, never
  a part of it (temporary name, fsync, rename, fsync of the directory);
- :class:`FileLock`: an exclusive ``flock`` on a lock file, waiting up to a timeout, with an error that
  says who holds it and what to do. The kernel drops the lock when the holder dies, so a crash never
  leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import hashlib
import multiprocessing
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from leap.errors import LeapError


def fsync_path(path: Path) -> None:
    """fsync a file (its data is durable) or a directory (a rename or new file in it is, POSIX)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)



@contextmanager
def atomic_target(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; when the block ends without error, the file written
    there replaces ``path`` atomically and durably. On error the temporary file is removed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        yield tmp
        fsync_path(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_path(path.parent)


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_target`)."""
    with atomic_target(path) as tmp:
        tmp.write_bytes(data)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _fail_if_importing_main(fd: int) -> None:
    """A worker process of :mod:`leap.parallel` is spawned: it imports the script that started it, and a
    script whose work is not under ``if __name__ == "__main__":`` runs again there, waits for a lock its
    parent holds while the parent waits for the worker, and both hang. Python flags this case only when
    the worker starts a process of its own; a lock it would wait for is flagged here."""
    if getattr(multiprocessing.current_process(), "_inheriting", False):  # set while a spawned child imports main
        os.close(fd)
        raise LeapError("a worker process ran the script that started it, up to a lock its parent holds",
                        hint='put the script\'s work under `if __name__ == "__main__":` (worker processes are '
                             "spawned and import the main script), or set LEAP_WORKERS=1")


class FileLock:
    """Exclusive lock on ``path``: ``with FileLock(...):`` or ``acquire()`` / ``release()``.

    ``timeout`` seconds to wait for another holder (0: fail at once). When it runs out, LeapError with
    ``message``, ``hint`` and ``exit_code``.
    """

    def __init__(self, path: Path, *, message: str, hint: str | None = None, timeout: float = 0.0,
                 exit_code: int = 2, poll: float = 0.05):
        self.path, self.message, self.hint = path, message, hint
        self.timeout, self.exit_code, self.poll = timeout, exit_code, poll
        self.fd: int | None = None

    def acquire(self) -> FileLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                self.fd = fd
                return self
            except BlockingIOError:
                _fail_if_importing_main(fd)
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise LeapError(self.message, hint=self.hint or f"lock: {self.path}",
                                    exit_code=self.exit_code) from None
                time.sleep(self.poll)

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing the descriptor drops the flock
            self.fd = None

    def __enter__(self) -> FileLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
