"""The main job at scale: submissions on the topic → raw lake → validated → warehouse → scores → growth.

    .venv/bin/python benchmarks/bench_pipeline.py --submissions 100000 1000000 [--rerun] [--keep DIR]

For each size, in a fresh data directory with its own embedded Apache Kafka: simulate N submissions (a
school year, fall and spring, both instruments, the default shares of malformed events and
resubmissions) and produce them to the topic (not timed: that is the producers' side), then run the
DAG flows of `leap demo --direct` from the drain to growth, in order — ingestion drain, validation,
warehouse build (dbt) and publish, calibration, scoring (with its dbt build and publish), growth — and
record per step the wall time, the CPU time and the peak resident memory. Each step runs in a process of its own (as
an Airflow task would), started with `--step`: its peak RSS together with its children (dbt runs as a
child) and of the largest single process, sampled every 0.1 s with psutil (the broker, a JVM of its
own, is left out). Simulating and producing run in a process of their own too, a million submissions
at a time (each million its own simulated schools). ``--rerun`` runs the same steps again with no new
data and records that too; ``--resume DATA_DIR --from STEP`` runs the steps from STEP on a data
directory kept by ``--keep`` (after a step failed; from ``leap_ingestion_drain``, the kept broker is
started again and the data directory emptied, so the drain reads the whole topic again). Writes ``benchmarks/out/pipeline.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
STEPS = ("leap_ingestion_drain", "leap_validation", "leap_warehouse_build", "leap_calibration", "leap_scoring",
         "leap_growth")


class MemorySampler:
    """Peak RSS of a process tree (without the broker JVM), sampled on a thread."""

    def __init__(self, pid: int, interval: float = 0.1):
        import psutil

        self.me = psutil.Process(pid)
        self.interval = interval
        self.peak_tree = self.peak_one = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        import psutil

        rss = []
        try:
            procs = [self.me, *self.me.children(recursive=True)]
        except psutil.Error:
            return
        for proc in procs:
            try:
                if "java" not in proc.name():
                    rss.append(proc.memory_info().rss)
            except psutil.Error:
                continue
        self.peak_tree = max(self.peak_tree, sum(rss))
        self.peak_one = max(self.peak_one, max(rss, default=0))

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            time.sleep(self.interval)

    def stop(self) -> None:
        self._stop.set()


def children_cpu() -> float:
    """User + system CPU seconds of every descendant of this process reaped so far: a step's process
    waits for its dbt and worker processes, so their time is in its own when it is reaped."""
    import resource

    use = resource.getrusage(resource.RUSAGE_CHILDREN)
    return use.ru_utime + use.ru_stime


def idle_core_seconds() -> float:
    """Seconds the machine's cores have been idle (summed over the cores, I/O waits included): the
    difference over a step is the core time nothing used, the broker's included (cores x wall - busy)."""
    import psutil

    times = psutil.cpu_times()
    return times.idle + getattr(times, "iowait", 0.0)


def in_child(args: list[str]) -> tuple[float, int, int, float, float]:
    """Run this script with ``args`` in a child process; (seconds, peak RSS of its tree, of its largest
    process in MB, CPU seconds of its tree, idle core-seconds of the machine meanwhile). The broker's JVM
    is not a descendant of the step: its CPU (serving the drain) is not counted in the step's CPU."""
    import subprocess

    t, cpu, idle = time.perf_counter(), children_cpu(), idle_core_seconds()
    # this tree's code in every process a step starts (the drains, dbt's Python plugin), not the installed
    # one: worktrees of two commits that share one virtualenv are then each measured on their own code
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    proc = subprocess.Popen([sys.executable, __file__, *args], env={**os.environ, "PYTHONPATH": path})
    sampler = MemorySampler(proc.pid)
    code = proc.wait()
    seconds = time.perf_counter() - t
    sampler.stop()
    if code != 0:
        raise SystemExit(f"{' '.join(args)} failed with exit {code}")
    return (seconds, round(sampler.peak_tree / 2**20), round(sampler.peak_one / 2**20), children_cpu() - cpu,
            idle_core_seconds() - idle)


def run_steps(plan: list[dict]) -> list[dict]:
    rows = []
    for step in plan:
        seconds, tree, one, cpu, idle = in_child(["--step", json.dumps(step)])
        rows.append({"step": step["dag_id"], "seconds": round(seconds, 1), "cpu_s": round(cpu, 1),
                     "idle_core_s": round(idle, 1), "peak_rss_tree_mb": tree, "peak_rss_one_process_mb": one})
        print(f"  {step['dag_id']:24s} {seconds:7.1f} s   CPU {cpu:6.1f} s   idle core-s {idle:5.1f}   "
              f"peak RSS {tree:6,} MB (largest process {one:,} MB)", flush=True)
    return rows


def child_step(step: dict) -> None:
    from leap.config import load_settings
    from leap.orchestration.flows import FLOWS

    FLOWS[step["dag_id"]](load_settings(), step.get("conf") or {})


CHUNK = 1_000_000  # submissions simulated at a time: a simulation holds its records in memory


def child_produce(submissions: int) -> None:
    """Simulate and produce ``submissions``, in chunks of at most CHUNK: chunk c is its own simulated
    program (seed 2024 + c) whose school ids (and the respondent and classroom ids built on them) are
    renamed SCH<c>-…, so the chunks are different schools of one national program."""
    from ingestion.producer import produce
    from leap.config import load_settings
    from simulator import SimConfig, simulate

    settings, records = load_settings(), 0
    chunks = -(-submissions // CHUNK)
    for c in range(chunks):
        size = min(CHUNK, submissions - c * CHUNK)
        sim = simulate(SimConfig(seed=2024 + c).scaled_to(size))
        pairs = sim.records if c == 0 else [
            (r.key.replace(b"SCH-", f"SCH{c}-".encode()) if r.key else r.key,
             r.value.replace(b"SCH-", f"SCH{c}-".encode())) for r in sim.records]
        produce(pairs, settings, progress=False)
        records += len(sim.records)
        del sim, pairs
        print(f"  produced chunk {c + 1}/{chunks} ({records:,} records)", flush=True)
    out = Path(os.environ["LEAP_DATA_DIR"])
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench-records.txt").write_text(str(records))


def bench(submissions: int, rerun: bool, keep: Path | None) -> dict:
    from ingestion.broker import ensure_topics
    from ingestion.embedded import KafkaBroker, NodeSpec
    from ingestion.embedded.process import free_port
    from leap.config import load_settings
    from leap.orchestration.runner import default_plan

    root = keep / str(submissions) if keep else Path(tempfile.mkdtemp(prefix="leap-pipeline-"))
    broker = KafkaBroker(root / "kafka", free_port(), NodeSpec(heap="1g"))
    broker.start(timeout=120)
    os.environ.update(KAFKA_BOOTSTRAP_SERVERS=broker.bootstrap, LEAP_DATA_DIR=str(root / "data"))
    os.environ.setdefault("LEAP_PSEUDONYM_KEY", "42" * 32)
    os.environ.pop("LEAP_TOPIC_PREFIX", None)
    settings = load_settings()
    try:
        ensure_topics(settings)
        produce_s, *_ = in_child(["--produce", str(submissions)])
        records = int((settings.data_dir / "bench-records.txt").read_text())
        plan = [p for p in default_plan("2024-25") if p["dag_id"] in STEPS]
        print(f"{submissions:,} submissions ({records:,} records on the topic):", flush=True)
        steps = run_steps(plan)
        out = {"submissions": submissions, "records": records, "simulate_and_produce_s": round(produce_s, 1),
               "steps": steps, "total_s": round(sum(s["seconds"] for s in steps), 1),
               "cpu_s": round(sum(s["cpu_s"] for s in steps), 1),
               "idle_core_s": round(sum(s["idle_core_s"] for s in steps), 1),
               "peak_rss_tree_mb": max(s["peak_rss_tree_mb"] for s in steps)}
        print(f"  total {out['total_s']} s, CPU {out['cpu_s']} s, idle core-s {out['idle_core_s']}, "
              f"peak RSS {out['peak_rss_tree_mb']:,} MB", flush=True)
        if rerun:
            print("  again, no new data:", flush=True)
            again = run_steps(plan)
            out["rerun"] = {"steps": again, "total_s": round(sum(s["seconds"] for s in again), 1)}
        return out
    finally:
        broker.stop()
        if not keep:
            shutil.rmtree(root, ignore_errors=True)


def resume(data_dir: Path, first: str, rerun: bool) -> dict:
    """The steps from ``first`` on, on a kept data directory (after a step failed; no broker needed
    from validation on). From the drain: the kept broker (``DATA_DIR/../kafka``) is started again and
    everything the data directory holds but ``bench-records.txt`` is deleted first, so the drain reads the
    whole topic into an empty lake (two commits' drains compared on the same records)."""
    from leap.orchestration.runner import default_plan

    os.environ["LEAP_DATA_DIR"] = str(data_dir)
    os.environ.setdefault("LEAP_PSEUDONYM_KEY", "42" * 32)
    plan = [p for p in default_plan("2024-25") if p["dag_id"] in STEPS]
    plan = plan[[p["dag_id"] for p in plan].index(first):]
    broker = _restart_broker(data_dir) if first == STEPS[0] else None
    try:
        print(f"resumed on {data_dir} from {first}:", flush=True)
        out = {"resumed": str(data_dir), "steps": run_steps(plan)}
        if rerun:
            print("  again, no new data:", flush=True)
            out["rerun"] = {"steps": run_steps(plan)}
        return out
    finally:
        if broker is not None:
            broker.stop()


def _restart_broker(data_dir: Path):
    """The kept run's broker on a free port, its topic as produced; the data directory emptied."""
    from ingestion.embedded import KafkaBroker, NodeSpec
    from ingestion.embedded.process import free_port

    home = data_dir.parent / "kafka"
    if not (home / "node.json").exists() or not (data_dir / "bench-records.txt").exists():
        raise SystemExit(f"--from {STEPS[0]} empties DATA_DIR, so it takes only a directory this benchmark kept "
                         f"(with bench-records.txt, its broker beside it: {home})")
    for path in data_dir.iterdir():
        if path.is_dir():
            shutil.rmtree(path)
        elif path.name != "bench-records.txt":
            path.unlink()
    broker = KafkaBroker(home, free_port(), NodeSpec(heap="1g"))
    while broker.port == broker.controller_port():  # fixed in node.json, which free_port() does not know
        broker = KafkaBroker(home, free_port(), NodeSpec(heap="1g"))
    broker.start(timeout=120)
    os.environ["KAFKA_BOOTSTRAP_SERVERS"] = broker.bootstrap
    os.environ.pop("LEAP_TOPIC_PREFIX", None)
    return broker


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--submissions", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--rerun", action="store_true", help="run the steps again with no new data")
    ap.add_argument("--keep", type=Path, default=None, help="work in DIR/<submissions> and keep it")
    ap.add_argument("--resume", type=Path, metavar="DATA_DIR", help="run on a kept data directory, from --from")
    ap.add_argument("--from", dest="first", default="leap_validation", choices=STEPS,
                    help="the first step; from the drain, the data directory is emptied first (see resume)")
    ap.add_argument("--step", help=argparse.SUPPRESS)  # internal: run one flow in this process
    ap.add_argument("--produce", type=int, help=argparse.SUPPRESS)  # internal: simulate and produce
    args = ap.parse_args()
    if args.step:
        child_step(json.loads(args.step))
        return 0
    if args.produce:
        child_produce(args.produce)
        return 0
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    if args.resume:
        results = {"machine": machine, "runs": [resume(args.resume, args.first, args.rerun)]}
    else:
        results = {"machine": machine, "runs": [bench(n, args.rerun, args.keep) for n in args.submissions]}
    out = ROOT / "benchmarks" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "pipeline.json").write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
