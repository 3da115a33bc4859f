"""Failover of the ingestion service on Apache Kafka: how soon partitions are owned again.

    .venv/bin/python benchmarks/bench_failover.py [--session-timeout-ms 10000] [--repeats 3]

On a fresh embedded Apache Kafka (own data directory, 6 partitions), per scenario, the time from the
moment that matters to the log line ``assigned partitions [...]`` that covers the partitions again:

- ``standalone restart``: a `--standalone` service SIGKILLed and started again (no group protocol);
- ``static restart``: a group member with ``LEAP_CONSUMER_INSTANCE_ID`` SIGKILLed and started again at
  once (within the session timeout): KIP-345 gives it its partitions back without a rebalance;
- ``static restart after the timeout``: the same, started again only after the session timeout ran out;
- ``dynamic restart``: a member without an instance id SIGKILLed and started again at once;
- ``dynamic, survivor takes over``: two members, one SIGKILLed and not restarted: how soon the other
  owns all six partitions (the session timeout plus a rebalance).

Times run from the new process's start (restarts) or from the kill (take-over), so they include
Python's start-up (about 1 s). Prints a table and writes ``benchmarks/out/failover.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

ALL = set(range(6))


def _owns(svc, parts: set[int], since: int) -> bool:
    """The process logged an assignment covering ``parts`` after its ``since``-th log line."""
    import re

    for line in list(svc.lines)[since:]:
        m = re.search(r"assigned partitions \[([0-9, ]*)\]", line)
        if m and parts <= {int(p) for p in m.group(1).replace(" ", "").split(",") if p}:
            return True
    return False


def _until(cond, timeout: float = 120.0) -> float:
    start = time.monotonic()
    while not cond():
        if time.monotonic() - start > timeout:
            raise RuntimeError("timed out")
        time.sleep(0.02)
    return time.monotonic() - start


def restart_time(args: list[str], env: dict[str, str], wait_before: float = 0.0) -> float:
    from support.services import IngestProcess

    first = IngestProcess(*args, env=env)
    _until(lambda: _owns(first, ALL, 0))
    time.sleep(1.0)
    first.kill()
    time.sleep(wait_before)
    start = time.monotonic()
    second = IngestProcess(*args, env=env)
    try:
        _until(lambda: _owns(second, ALL, 0))
        return time.monotonic() - start
    finally:
        second.stop()


def takeover_time(env: dict[str, str]) -> float:
    from support.services import IngestProcess

    a, b = IngestProcess("--service", "--quiet", env=env), IngestProcess("--service", "--quiet", env=env)
    try:
        _until(lambda: a.assigned() and b.assigned() and a.assigned() | b.assigned() == ALL)
        time.sleep(1.0)
        mark = len(b.lines)
        a.kill()
        return _until(lambda: _owns(b, ALL, mark))
    finally:
        b.stop()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--session-timeout-ms", type=int, default=10000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    from support.kafka import TEST_KEY, start_kafka

    from ingestion.broker import ensure_topics
    from leap.config import load_settings

    tmp = Path(tempfile.mkdtemp(prefix="leap-failover-"))
    broker = start_kafka(tmp / "kafka")
    os.environ.update(KAFKA_BOOTSTRAP_SERVERS=broker.bootstrap, LEAP_DATA_DIR=str(tmp / "data"),
                      LEAP_PSEUDONYM_KEY=TEST_KEY, LEAP_CONSUMER_SESSION_TIMEOUT_MS=str(args.session_timeout_ms))
    os.environ.pop("LEAP_TOPIC_PREFIX", None)
    ensure_topics(load_settings())
    timeout = args.session_timeout_ms / 1000
    scenarios = {
        "standalone restart": lambda i: restart_time(["--service", "--quiet", "--standalone"], {}),
        "static restart": lambda i: restart_time(["--service", "--quiet"],
                                                 {"LEAP_CONSUMER_INSTANCE_ID": "bench-static",
                                                  "LEAP_CONSUMER_GROUP": f"bench-static-{i}"}),
        "static restart after the timeout": lambda i: restart_time(
            ["--service", "--quiet"], {"LEAP_CONSUMER_INSTANCE_ID": "bench-late",
                                       "LEAP_CONSUMER_GROUP": f"bench-late-{i}"}, wait_before=timeout + 2),
        "dynamic restart": lambda i: restart_time(["--service", "--quiet"], {"LEAP_CONSUMER_GROUP": f"bench-dyn-{i}"}),
        "dynamic, survivor takes over": lambda i: takeover_time({"LEAP_CONSUMER_GROUP": f"bench-two-{i}"}),
    }
    results: dict = {"broker": broker.kind, "session_timeout_s": timeout, "scenarios": {}}
    try:
        for name, run in scenarios.items():
            times = [run(i) for i in range(args.repeats)]
            results["scenarios"][name] = {"median_s": round(statistics.median(times), 1),
                                          "runs_s": [round(t, 1) for t in times]}
            print(f"{name:36s} median {statistics.median(times):5.1f} s   runs {[round(t, 1) for t in times]}",
                  flush=True)
    finally:
        broker.stop()
    out = ROOT / "benchmarks" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "failover.json").write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
