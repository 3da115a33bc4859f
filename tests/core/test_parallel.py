"""leap.parallel: work on worker processes, results in the order given, errors raised here."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from leap.errors import LeapError
from leap.parallel import available_cores, ordered_map, worker_count, worker_pool


def _square_and_pid(x: int) -> tuple[int, int]:
    time.sleep(0.05 * (x % 3))  # later pieces finish first now and then: the order must still hold
    return x * x, os.getpid()


def _fail_on_three(x: int) -> int:
    if x == 3:
        raise ValueError(f"piece {x} is bad")
    return x


def _worker_env(_: int) -> tuple[str | None, str | None]:
    return os.environ.get("OPENBLAS_NUM_THREADS"), os.environ.get("_AIRFLOW__AS_LIBRARY")


def test_results_come_in_the_order_given_from_other_processes():
    out = list(ordered_map(_square_and_pid, range(12), workers=2))
    assert [sq for sq, _ in out] == [x * x for x in range(12)]
    pids = {pid for _, pid in out}
    assert os.getpid() not in pids and 1 <= len(pids) <= 2


def test_one_worker_runs_every_piece_here_without_a_pool():
    out = list(ordered_map(_square_and_pid, range(4), workers=1))
    assert {pid for _, pid in out} == {os.getpid()}


def test_an_error_in_a_worker_is_raised_here_and_nothing_after_it_is_yielded():
    seen = []
    with pytest.raises(ValueError, match="piece 3 is bad"):
        for x in ordered_map(_fail_on_three, range(10), workers=2):
            seen.append(x)
    assert seen == [0, 1, 2]


def test_the_pieces_are_read_as_workers_free_up_not_all_at_once():
    read = []

    def pieces():
        for x in range(20):
            read.append(x)
            yield x

    it = ordered_map(_square_and_pid, pieces(), workers=2)
    next(it)
    assert len(read) <= 2 + 2  # the window: workers + 1 in flight, and the one read back
    assert [sq for sq, _ in it] == [x * x for x in range(1, 20)]


def test_workers_run_one_blas_thread_without_airflow_and_the_parent_keeps_its_environment(monkeypatch):
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    monkeypatch.delenv("_AIRFLOW__AS_LIBRARY", raising=False)
    seen = []
    for env in ordered_map(_worker_env, range(4), workers=2):
        seen.append(env)
        assert "OPENBLAS_NUM_THREADS" not in os.environ  # only while a piece is submitted
    assert set(seen) == {("1", "1")}
    assert "OPENBLAS_NUM_THREADS" not in os.environ and "_AIRFLOW__AS_LIBRARY" not in os.environ


@pytest.mark.skipif(available_cores() < 2, reason="one core: OpenBLAS runs one thread whatever it is told")
def test_pieces_run_on_one_blas_thread_in_this_process_too_and_its_own_threads_come_back(tmp_path):
    """With one worker the pieces run here, where numpy's OpenBLAS loaded with two threads: they must run on
    one, as on a worker (two threads can change a result's last bit, so the output would depend on
    LEAP_WORKERS), and the process's own work between and after them keeps its two."""
    script = textwrap.dedent("""
        import json
        import numpy
        from threadpoolctl import threadpool_info
        from leap.parallel import ordered_map

        def blas_threads(_=None):
            return sorted({lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"})

        if __name__ == "__main__":
            seen = {"before": blas_threads(), "between": []}
            for workers in (1, 2):
                pieces = []
                for threads in ordered_map(blas_threads, range(3), workers=workers):
                    pieces.append(threads)
                    seen["between"].append(blas_threads())
                seen[workers] = pieces
            seen["after"] = blas_threads()
            print(json.dumps(seen))
    """)
    (tmp_path / "blas.py").write_text(script)
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "2"}
    run = subprocess.run([sys.executable, str(tmp_path / "blas.py")], capture_output=True, text=True,
                         timeout=120, cwd=os.getcwd(), env=env)
    assert run.returncode == 0, run.stderr
    seen = json.loads(run.stdout)
    assert seen["before"] == [2]
    assert seen["1"] == [[1]] * 3 and seen["2"] == [[1]] * 3
    assert seen["between"] == [[2]] * 6 and seen["after"] == [2]


def test_the_cores_are_capped_by_a_container_cpu_quota(tmp_path):
    from leap.parallel import cgroup_cpu_quota

    assert cgroup_cpu_quota(tmp_path) is None  # no cgroup files: no quota
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert cgroup_cpu_quota(tmp_path) is None
    (tmp_path / "cpu.max").write_text("150000 100000\n")  # docker --cpus 1.5 (cgroup v2)
    assert cgroup_cpu_quota(tmp_path) == 1.5
    (tmp_path / "cpu.max").unlink()
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("300000\n")  # cgroup v1: 3 CPUs
    (tmp_path / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert cgroup_cpu_quota(tmp_path) == 3.0
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("-1\n")
    assert cgroup_cpu_quota(tmp_path) is None


def test_worker_count_reads_leap_workers_and_caps_it_by_the_pieces(monkeypatch):
    monkeypatch.delenv("LEAP_WORKERS", raising=False)
    assert worker_count() == available_cores()
    monkeypatch.setenv("LEAP_WORKERS", "6")
    assert worker_count() == 6 and worker_count(pieces=4) == 4 and worker_count(pieces=0) == 1
    monkeypatch.setenv("LEAP_WORKERS", "0")
    with pytest.raises(LeapError, match="at least 1"):
        worker_count()
    monkeypatch.setenv("LEAP_WORKERS", "many")
    with pytest.raises(LeapError, match="not a whole number"):
        worker_count()


def test_workers_end_with_a_sigkilled_parent(tmp_path):
    """A parent killed mid-work cannot shut its pool down; its workers must not live on."""
    pids = tmp_path / "pids"
    script = textwrap.dedent(f"""
        import os, time
        from leap.parallel import ordered_map

        def work(x):
            with open({str(pids)!r}, "a") as f:
                f.write(f"{{os.getpid()}}\\n")
            time.sleep(60)

        if __name__ == "__main__":
            list(ordered_map(work, range(4), workers=2))
    """)
    (tmp_path / "parent.py").write_text(script)  # a file: spawn re-imports the parent's main module
    parent = subprocess.Popen([sys.executable, str(tmp_path / "parent.py")], cwd=os.getcwd(),
                              env={**os.environ, "PYTHONPATH": os.getcwd()})
    workers: set[int] = set()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (not pids.exists() or len(set(pids.read_text().split())) < 2):
            time.sleep(0.05)
        workers = {int(p) for p in pids.read_text().split()}
        assert len(workers) == 2
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(_alive(p) for p in workers):
            time.sleep(0.05)
        assert not any(_alive(p) for p in workers)
    finally:  # whatever failed above, leave nothing running
        parent.kill()
        for pid in workers:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:  # a zombie (exited, not yet reaped by init) is gone
        return f.read().split()[2] != "Z"


def _die(x: int) -> int:
    if x == 2:
        os._exit(3)  # as the kernel's OOM killer would leave it: no exception, no result
    return x


def test_a_worker_that_dies_is_an_error_that_says_what_to_do():
    with pytest.raises(LeapError, match="worker process of _die died") as err:
        list(ordered_map(_die, range(6), workers=2))
    assert "LEAP_WORKERS=1" in err.value.hint


def test_a_script_without_a_main_guard_fails_with_what_to_do_instead_of_hanging(tmp_path):
    """Spawned workers import the script that started them: unguarded, its work runs again in each worker
    and waits for the lock the parent holds, while the parent waits for the worker."""
    script = textwrap.dedent(f"""
        from pathlib import Path
        from leap.fsutil import FileLock
        from leap.parallel import ordered_map

        def square(x):
            return x * x

        with FileLock(Path({str(tmp_path / "lock")!r}), message="held", timeout=600):
            print(list(ordered_map(square, range(4), workers=2)))
    """)
    (tmp_path / "unguarded.py").write_text(script)
    run = subprocess.run([sys.executable, str(tmp_path / "unguarded.py")], capture_output=True, text=True,
                         timeout=60, cwd=os.getcwd())  # a hang (before the check) runs out here
    assert run.returncode != 0
    assert "a worker process ran the script that started it" in run.stderr
    assert '__name__ == "__main__"' in run.stderr


def test_maps_nested_on_one_pool_share_its_workers_and_keep_their_order():
    """A map whose pieces come from another map's results (the calibration: fits, then quality reports),
    both on one worker_pool: every result in order, and no more processes than the pool's workers."""
    inner_pids = []

    def squares(results):
        for sq, pid in results:
            inner_pids.append(pid)
            yield sq

    with worker_pool(2) as pool:
        inner = ordered_map(_square_and_pid, range(8), pool=pool)
        outer = list(ordered_map(_square_and_pid, squares(inner), pool=pool))
    assert [sq for sq, _ in outer] == [(x * x) ** 2 for x in range(8)]
    pids = set(inner_pids) | {pid for _, pid in outer}
    assert len(pids) <= 2 and os.getpid() not in pids


def test_a_map_on_a_shared_pool_that_fails_leaves_the_pool_to_the_next_map():
    with worker_pool(2) as pool:
        with pytest.raises(ValueError, match="piece 3 is bad"):
            list(ordered_map(_fail_on_three, range(10), pool=pool))
        assert [sq for sq, _ in ordered_map(_square_and_pid, range(5), pool=pool)] == [0, 1, 4, 9, 16]


def test_a_pool_of_one_worker_runs_the_maps_here():
    with worker_pool(1) as pool:
        assert {pid for _, pid in ordered_map(_square_and_pid, range(3), pool=pool)} == {os.getpid()}
