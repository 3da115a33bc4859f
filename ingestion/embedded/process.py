"""A broker process the platform starts, checks and stops itself (the embedded default).

Both embedded brokers (Apache Kafka, Tansu) are a child process detached into its own session,
with a pid file, a log file and readiness judged by their Kafka port. Stopping sends SIGTERM (a
clean shutdown: Kafka flushes its logs and closes the KRaft quorum) and SIGKILLs only after a
timeout.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import time
from pathlib import Path

from leap.errors import LeapError

PORT_HINT = "set LEAP_EMBEDDED_BROKER_PORT to a free port"


def port_taken(port: int, host: str = "127.0.0.1") -> bool:
    """Something accepts connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    """A listener could bind ``host:port`` now, as Kafka's would (with SO_REUSEADDR).

    Stricter than :func:`port_taken`: a port can refuse connections and still be unbindable, because
    an outgoing connection holds it as its local port (EADDRINUSE for a listener, SO_REUSEADDR or
    not); connections left in TIME_WAIT by a stopped broker do not block it."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def _ephemeral_low() -> int:
    """The first port of the kernel's range for outgoing connections' local ports."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


_HANDED_OUT: set[int] = set()


def free_port(host: str = "127.0.0.1") -> int:
    """A port for a listener this process starts (a test's or a benchmark's broker or web server).

    Not ``bind(0)``: that port comes from the ephemeral range, the one outgoing connections take
    their local ports from, so between picking it and the server binding it any client connection
    of the machine may take it (a broker then dies with "Address already in use"; seen in CI). A
    port below that range is only ever taken by a listener binding it by number. Ports handed out
    by this process are not handed out again, and neither is the port after each (a broker's
    controller listens next to it, see ``KafkaBroker.controller_port``)."""
    low, high = 20000, _ephemeral_low() - 1
    for _ in range(500) if high - low > 1000 else ():
        port = random.randrange(low, high)
        if not {port, port + 1} & _HANDED_OUT and port_free(port, host) and port_free(port + 1, host):
            _HANDED_OUT.update((port, port + 1))
            return port
    with socket.socket() as s:  # an odd ephemeral range, or everything below it taken
        s.bind((host, 0))
        return s.getsockname()[1]


def alive(pid: int) -> bool:
    try:  # reap it if it is our own child, or a zombie would look alive
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def log_tail(path: Path, lines: int = 8) -> str:
    """The last ``lines`` of a log, led by its first ERROR and the line after it (the exception):
    a Java process that fails to start logs its cause early and a stack trace of hundreds of lines
    after it."""
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    first = next((i for i, line in enumerate(text) if " ERROR " in line), None)
    cause = text[first:first + 2] if first is not None and first < len(text) - lines else []
    return "\n".join([*cause, *(["..."] if cause else []), *text[-lines:]])


class ManagedProcess:
    """Pid file, log file, start-until-ready and stop of one broker process on 127.0.0.1:``port``."""

    kind = "broker"  # what the commands call it ("Apache Kafka 4.1.1", "Tansu")

    def __init__(self, port: int, pidfile: Path, logfile: Path):
        self.port = port
        self.pidfile = pidfile
        self.logfile = logfile

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def pid(self) -> int | None:
        """The pid of the broker this data directory started, if it still runs."""
        try:
            pid = int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if alive(pid) else None

    def running(self) -> bool:
        return self.pid() is not None and port_taken(self.port)

    def ready(self) -> bool:
        """The broker serves requests (subclasses check more than the port)."""
        return port_taken(self.port)

    # ------------------------------------------------------------------ start

    def _launch(self, cmd: list[str], env: dict[str, str], timeout: float, stdout: Path | None = None,
                wait: bool = True) -> None:
        """Start ``cmd`` detached, write the pid file, wait until :meth:`ready` (unless ``wait`` is
        False: the nodes of a cluster only get ready together); clear errors otherwise."""
        out = stdout or self.logfile
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            self.pidfile.parent.mkdir(parents=True, exist_ok=True)
            fh = open(out, "ab")
        except OSError as exc:
            raise LeapError(f"cannot write the broker's files under {out.parent}: {exc.strerror}",
                            hint="make LEAP_DATA_DIR writable", exit_code=4) from None
        with fh:
            proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True, env=env)
        self.pidfile.write_text(f"{proc.pid}\n")
        self._proc, self._stdout = proc, out
        if wait:
            self.wait_ready(timeout)

    def wait_ready(self, timeout: float) -> None:
        proc = self._proc
        deadline = time.monotonic() + timeout
        while not self.ready():
            if proc.poll() is not None:
                self.pidfile.unlink(missing_ok=True)
                raise LeapError(f"the embedded {self.kind} exited with code {proc.returncode} while starting:\n"
                                f"{log_tail(self.logfile) or log_tail(self._stdout)}",
                                hint=f"see {self.logfile}", exit_code=3)
            if time.monotonic() > deadline:
                self._terminate(proc.pid, 10.0)
                raise LeapError(f"the embedded {self.kind} did not answer on {self.bootstrap} within {timeout:.0f} s",
                                hint=f"see {self.logfile}; raise the timeout with `leap broker start --timeout`",
                                exit_code=3)
            time.sleep(0.1)

    def check_port_free(self, *ports: int) -> None:
        for port in (self.port, *ports):
            if not port_free(port):
                raise LeapError(f"port {port} is taken by another process, not by this data directory's broker",
                                hint=f"{PORT_HINT} (or stop what listens there)", exit_code=3)

    # ------------------------------------------------------------------ stop

    def stop(self, timeout: float = 30.0) -> bool:
        """SIGTERM (clean shutdown), SIGKILL after ``timeout``; False when nothing was running."""
        pid = self.pid()
        if pid is None:
            self.pidfile.unlink(missing_ok=True)
            return False
        self._terminate(pid, timeout)
        self.pidfile.unlink(missing_ok=True)
        return True

    def kill(self) -> None:
        """SIGKILL, as a crash would (tests)."""
        pid = self.pid()
        if pid is not None:
            os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 10
            while alive(pid) and time.monotonic() < deadline:
                time.sleep(0.02)

    @staticmethod
    def _terminate(pid: int, timeout: float) -> None:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and alive(pid):
            time.sleep(0.05)
        if alive(pid):
            os.kill(pid, signal.SIGKILL)

    # ------------------------------------------------------------------ status

    def describe(self) -> dict[str, str]:
        """What ``leap broker status`` shows about this broker."""
        return {"broker": self.kind, "address": self.bootstrap, "pid": str(self.pid() or "-"),
                "log": str(self.logfile)}
