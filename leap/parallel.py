"""Work spread over the machine's cores, in worker processes, with results in the order of the work.

The batch steps of the chain were single-threaded Python (the Rasch engine, Great Expectations), so on
a machine of N cores they used one: a million submissions' DIF took 35 s on one core of two while the
other idled. :func:`ordered_map` runs independent pieces of a step (a scale × grouping's DIF, a batch's
validation, a batch's scores) in a pool of worker processes and yields their results in the order
the pieces were given, so a step's output is the same, row for row, whatever the number of workers.

* **How many**: ``LEAP_WORKERS`` (default: the cores this process may run on), never more than there
  are pieces; 1 runs every piece in this process, with no pool at all (tests, small runs, debugging).
* **Memory stays bounded**: at most ``workers + 1`` pieces are submitted ahead of the one being read
  back, so the pieces' inputs and results in flight are a few batches, never the whole step.
* **Processes, spawned**: the engine holds the GIL, so threads would not help; ``spawn`` (not ``fork``)
  because the parent may hold DuckDB connections and threads, which a forked child must not inherit.
  A worker ends with its parent even when the parent is SIGKILLed (:func:`die_with`).
* **Errors** raised in a worker are raised here, from the piece that failed, with the worker's traceback
  chained (``concurrent.futures`` keeps it); the pool is shut down and no piece after it is started. A
  worker that dies (killed, out of memory) is a :class:`~leap.errors.LeapError` that says what to do.
* **Callers' scripts** need ``if __name__ == "__main__":`` around what they run: a spawned worker imports
  the script it was started from (the ``leap`` command, Airflow's task runner and pytest do this already).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

__all__ = ["available_cores", "die_with", "ordered_map", "worker_count"]

# A worker's numpy runs one BLAS thread: with a BLAS thread per core in each of N workers, N workers on N
# cores oversubscribe them, and OpenBLAS's threads spin while they wait (DIF at a million, two workers:
# 28 s with them, 20 s without). Workers are spawned when work is submitted, so the variables hold for
# the pool's life; the parent's BLAS has loaded already and keeps its threads.
_BLAS_THREADS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")

T = TypeVar("T")
R = TypeVar("R")


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity, e.g. a container's share), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def worker_count(pieces: int | None = None) -> int:
    """``LEAP_WORKERS`` (default :func:`available_cores`), at most ``pieces`` and at least 1."""
    from leap.config import _int_env

    n = _int_env("LEAP_WORKERS", available_cores())
    if n < 1:
        from leap.errors import LeapError

        raise LeapError(f"LEAP_WORKERS={n} must be at least 1", hint="unset it to use every core, or set 1 for none")
    return max(1, min(n, pieces)) if pieces is not None else n


def ordered_map(fn: Callable[[T], R], pieces: Iterable[T], workers: int | None = None) -> Iterator[R]:
    """``fn(piece)`` for every piece, in order, on ``workers`` processes (default :func:`worker_count`).

    ``fn`` must be a module-level function and the pieces and results picklable. ``pieces`` may be a
    generator: it is read only as workers free up, so the parent can read the next input while the
    workers compute (the window keeps ``workers + 1`` pieces in flight)."""
    workers = worker_count() if workers is None else workers
    if workers <= 1:
        yield from map(fn, pieces)
        return
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    saved = {k: os.environ.get(k) for k in _BLAS_THREADS}
    window: deque = deque()
    pool = None
    try:
        os.environ.update(dict.fromkeys(_BLAS_THREADS, "1"))  # read by the workers' BLAS as it loads
        pool = ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"), initializer=_init_worker,
                                   initargs=(os.getpid(),))
        for piece in pieces:
            window.append(pool.submit(fn, piece))
            if len(window) > workers:
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
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        _restore(saved)


def _restore(saved: dict[str, str | None]) -> None:
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
