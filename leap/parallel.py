"""Work spread over the machine's cores, in worker processes, with results in the order of the work.

The batch steps of the chain were single-threaded Python (the Rasch engine, Great Expectations), so on
a machine of N cores they used one: a million submissions' DIF took 35 s on one core of two while the
other idled. :func:`ordered_map` runs independent pieces of a step (a scale × grouping's DIF, a batch's
validation, a batch's scores) in a pool of worker processes and yields their results in the order
the pieces were given, so a step's output is the same, row for row, whatever the number of workers.

* **How many**: ``LEAP_WORKERS`` (default: the cores this process may use: its CPU affinity and a
  container's CPU quota), never more than there are pieces; 1 runs every piece in this process, with no
  pool at all (tests, small runs, debugging); its pieces run on one BLAS thread, as they do on a worker,
  so the output is the same bits either way (OpenBLAS on two threads can round a matrix product or an
  inverse differently in the last bit than on one).
* **Memory stays bounded**: at most ``workers + 1`` pieces are in flight (submitted, or being read back),
  so the pieces' inputs and results held at once are a few pieces, never the whole step.
* **Processes, spawned**: the engine holds the GIL, so threads would not help; ``spawn`` (not ``fork``)
  because the parent may hold DuckDB connections and threads, which a forked child must not inherit.
  A worker ends with its parent even when the parent is SIGKILLed (:func:`die_with`).
* **Errors** raised in a worker are raised here, from the piece that failed, with the worker's traceback
  chained (``concurrent.futures`` keeps it); no piece not yet submitted is started, the ones already
  with a worker finish before the error comes out. A worker that dies (killed, out of memory) is a
  :class:`~leap.errors.LeapError` that says what to do. Callers close the iterator when they stop reading
  early (``contextlib.closing``), so the pool never outlives their step.
* **One pool for several maps**: :func:`worker_pool` gives the maps of one step (nested ones too: the
  calibration's fits feed its quality reports) the same ``workers`` processes, so the cores run one worker
  each and every worker imports its modules once; without it each map has a pool of its own.
* **Callers' scripts** need ``if __name__ == "__main__":`` around what they run: a spawned worker imports
  the script it was started from (the ``leap`` command, Airflow's task runner and pytest do this already).
"""

from __future__ import annotations

import math
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

__all__ = ["WorkerPool", "available_cores", "cgroup_cpu_quota", "die_with", "ordered_map", "worker_count", "worker_pool"]

# The environment a worker is spawned with. Its numpy runs one BLAS thread: with a BLAS thread per core in
# each of N workers, N workers on N cores oversubscribe them, and OpenBLAS's threads spin while they wait
# (DIF at a million, two workers: 28 s with them, 20 s without). And a spawned worker first imports the
# script its parent was started from: in an Airflow task, the `airflow` command, whose import initializes
# Airflow (configuration, ORM, logging) unless told it is used as a library; the workers never use it.
# Set only while a piece is submitted (the pool spawns its workers then), so the parent keeps its own.
_WORKER_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
               "_AIRFLOW__AS_LIBRARY": "1"}

T = TypeVar("T")
R = TypeVar("R")


def available_cores() -> int:
    """The cores this process may use, at least 1: its CPU affinity, and no more than its container's CPU
    quota (``docker --cpus``, a Kubernetes CPU limit: a cgroup quota, which the affinity does not show)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cores = os.cpu_count() or 1
    quota = cgroup_cpu_quota()
    return max(1, min(cores, math.ceil(quota)) if quota else cores)


def cgroup_cpu_quota(root: Path = Path("/sys/fs/cgroup")) -> float | None:
    """CPUs the cgroup's quota allows (cgroup v2 ``cpu.max``, v1 ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us``),
    or None without a quota."""
    try:
        if (root / "cpu.max").exists():
            quota, period = (root / "cpu.max").read_text().split()[:2]
        else:
            quota = (root / "cpu" / "cpu.cfs_quota_us").read_text().strip()
            period = (root / "cpu" / "cpu.cfs_period_us").read_text().strip()
    except (OSError, ValueError):
        return None
    if quota in ("max", "-1"):
        return None
    try:
        return int(quota) / int(period) if int(period) > 0 and int(quota) > 0 else None
    except ValueError:
        return None


def worker_count(pieces: int | None = None) -> int:
    """``LEAP_WORKERS`` (default :func:`available_cores`), at most ``pieces`` and at least 1."""
    from leap.config import _int_env

    n = _int_env("LEAP_WORKERS", available_cores())
    if n < 1:
        from leap.errors import LeapError

        raise LeapError(f"LEAP_WORKERS={n} must be at least 1", hint="unset it to use every core, or set 1 for none")
    return max(1, min(n, pieces)) if pieces is not None else n


@dataclass(frozen=True)
class WorkerPool:
    """Worker processes shared by the :func:`ordered_map` calls of one step (:func:`worker_pool`)."""

    executor: object | None  # a concurrent.futures.ProcessPoolExecutor; None: one worker, this process
    workers: int


@contextmanager
def worker_pool(workers: int | None = None) -> Iterator[WorkerPool]:
    """One pool of ``workers`` processes (default :func:`worker_count`) for several :func:`ordered_map`
    calls, nested ones too (a map whose pieces come from another map's results): their pieces queue for
    the same processes instead of each map spawning its own, so the machine's cores run one worker each
    and every worker imports its modules once. With one worker there are no processes: the maps run here.
    Shut down, its running pieces finished, when the block ends."""
    workers = worker_count() if workers is None else workers
    if workers <= 1:
        yield WorkerPool(None, 1)
        return
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    executor = ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"), initializer=_init_worker,
                                   initargs=(os.getpid(),))
    try:
        yield WorkerPool(executor, workers)
    finally:
        executor.shutdown(wait=True, cancel_futures=True)


def ordered_map(fn: Callable[[T], R], pieces: Iterable[T], workers: int | None = None,
                pool: WorkerPool | None = None) -> Iterator[R]:
    """``fn(piece)`` for every piece, in order, on ``workers`` processes (default :func:`worker_count`), or
    on ``pool``'s (:func:`worker_pool`; its size then sets the window).

    ``fn`` must be a module-level function and the pieces and results picklable. ``pieces`` may be a
    generator: it is read only as workers free up, so the parent can read the next input while the
    workers compute (the window keeps ``workers + 1`` pieces in flight)."""
    if pool is not None:
        yield from _mapped(fn, pieces, pool)
        return
    with worker_pool(workers) as own:
        yield from _mapped(fn, pieces, own)


def _mapped(fn: Callable[[T], R], pieces: Iterable[T], pool: WorkerPool) -> Iterator[R]:
    """:func:`ordered_map` on a pool: when it stops (an error, or the caller stopped reading), its pieces
    not started are cancelled and the ones started are waited for, so none outlives the map."""
    if pool.executor is None:
        for piece in pieces:
            with _one_blas_thread():
                result = fn(piece)
            yield result  # outside the limit: the caller's own work between pieces keeps its threads
        return
    from concurrent.futures import wait
    from concurrent.futures.process import BrokenProcessPool

    window: deque = deque()
    try:
        for piece in pieces:
            with _worker_environment():
                window.append(pool.executor.submit(fn, piece))
            if len(window) > pool.workers:
                yield window.popleft().result()
        while window:
            yield window.popleft().result()
    except BrokenProcessPool as exc:
        from leap.errors import LeapError

        raise LeapError(f"a worker process of {getattr(fn, '__qualname__', fn)} died before it finished "
                        f"(killed, or out of memory): {exc}",
                        hint="run again; with LEAP_WORKERS=1 the work runs in this process, one piece at a "
                             "time, in the least memory") from exc
    finally:
        for future in window:  # an error, or the caller stopped reading: start nothing more
            future.cancel()
        wait(window)


@contextmanager
def _one_blas_thread():
    """This process's BLAS libraries (numpy's and scipy's OpenBLAS) on one thread while the block runs, as
    ``_WORKER_ENV`` sets them in a worker: the environment variables are read when a library loads, so in
    this process, where they are loaded already, the limit is set through the libraries (threadpoolctl,
    ~0.5 ms: it looks up the libraries loaded now, so one a piece loads the first time is covered next time)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield


@contextmanager
def _worker_environment():
    saved = {k: os.environ.get(k) for k in _WORKER_ENV}
    os.environ.update(_WORKER_ENV)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _init_worker(parent: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group; the parent decides
    die_with(parent)


def die_with(parent: int) -> None:
    """End this worker when the process that spawned it is gone, even by SIGKILL.

    A SIGKILLed parent cannot shut its pool down: its spawn workers (and through them the
    multiprocessing resource tracker, whose pipe they hold) would live on, idle, for a minute
    or more. A daemon thread watches for re-parenting (checked every 0.2 s). Not PR_SET_PDEATHSIG:
    it fires when the *thread* that spawned the worker ends, and the pool may spawn from any thread.
    """

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.2)
        os._exit(1)

    if os.getppid() != parent:
        os._exit(1)
    threading.Thread(target=watch, name="leap-parent-watch", daemon=True).start()
