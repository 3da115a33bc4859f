"""Ingestion processes for tests: start `leap ingest` as a service, watch its log, kill it, find orphans."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path


class IngestProcess:
    """``leap ingest`` in a subprocess; its stderr is collected so a test can wait for a log line.

    Every process (and every child it spawns) carries ``LEAP_TEST_PROCESS_TAG`` in its environment, so
    :func:`processes_tagged` finds what outlived it.
    """

    def __init__(self, *args: str, env: dict[str, str] | None = None):
        self.tag = f"ingest-{uuid.uuid4().hex[:10]}"
        full_env = {**os.environ, **(env or {}), "LEAP_TEST_PROCESS_TAG": self.tag}
        self.proc = subprocess.Popen([sys.executable, "-m", "leap.cli", "ingest", *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=full_env)
        self.lines: list[str] = []
        self.stdout = ""
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stderr:
            self.lines.append(line)

    def wait_for(self, pattern: str, timeout: float = 60.0, count: int = 1) -> bool:
        """True once ``count`` log lines match ``pattern``; False on timeout or exit."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if sum(1 for line in list(self.lines) if rx.search(line)) >= count:
                return True
            if self.proc.poll() is not None:
                time.sleep(0.2)  # let the reader catch the last lines
                return sum(1 for line in list(self.lines) if rx.search(line)) >= count
            time.sleep(0.05)
        return False

    def assigned(self) -> set[int]:
        """Partitions of the last assignment this process logged."""
        for line in reversed(list(self.lines)):
            m = re.search(r"assigned partitions \[([0-9, ]*)\]", line)
            if m:
                return {int(p) for p in m.group(1).replace(" ", "").split(",") if p}
        return set()

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()

    def stop(self, timeout: float = 120.0) -> int:
        """SIGTERM, wait; the exit code."""
        self.proc.terminate()
        self.stdout = self.proc.communicate(timeout=timeout)[0]
        return self.proc.returncode

    def log(self) -> str:
        return "".join(self.lines)


def processes_tagged(tag: str) -> list[int]:
    """Pids of live processes whose environment carries ``LEAP_TEST_PROCESS_TAG=tag``."""
    needle = f"LEAP_TEST_PROCESS_TAG={tag}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            state = (entry / "stat").read_text().split(") ")[-1][:1]
        except OSError:
            continue
        if needle in environ.split(b"\0") and state != "Z":
            found.append(int(entry.name))
    return found


def wait_until_gone(tag: str, timeout: float = 10.0) -> list[int]:
    """The tagged processes still alive after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while (left := processes_tagged(tag)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left
