"""Crash safety: SIGKILL the ingestion service at 30+ random points while a stream flows.

After every kill the service is restarted; at the end one bounded drain catches up. The lake
must then hold exactly the valid submissions produced, each once.
"""

from __future__ import annotations

import random
import subprocess
import sys
import time
from collections import Counter

import pytest
from support.lake import landed_ids
from support.services import IngestProcess, wait_until_gone
from support.streams import Trickle, make_stream

pytestmark = [pytest.mark.broker, pytest.mark.slow]


def _markers(settings) -> int:
    return sum(1 for _ in (settings.layout.ingest_log / settings.topic).rglob("*.json"))


def _wait_for_progress(settings, before: int, proc, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if _markers(settings) > before:
            return True
        time.sleep(0.02)
    return False


@pytest.mark.parametrize(("broker", "mode", "kills"), [("kafka", "standalone", 26), ("kafka", "group", 6),
                                                      ("tansu", "standalone", 6)])
def test_sigkill_at_random_points_loses_and_duplicates_nothing(request, monkeypatch, broker, mode, kills):
    """Apache Kafka: 26 kills standalone + 6 in group mode (static membership: each restart waits for a
    join). Tansu: 6. Every killed service leaves no process behind (its decode worker included)."""
    settings = request.getfixturevalue("platform" if broker == "kafka" else "tansu")
    monkeypatch.setenv("LEAP_FLUSH_RECORDS", "120")
    monkeypatch.setenv("LEAP_FLUSH_SECONDS", "0.3")
    monkeypatch.setenv("LEAP_CONSUMER_SESSION_TIMEOUT_MS", "6000")
    monkeypatch.setenv("LEAP_CONSUMER_INSTANCE_ID", "ingest-crash-test")
    monkeypatch.setenv("LEAP_INGEST_WORKERS", "1")  # a decode worker process that must die with its parent
    stream = make_stream(40000, seed=11, malformed_every=40, resubmit_every=30)
    rng = random.Random(2024)
    trickle = Trickle(settings, stream.records, per_second=400).start()
    args = ["--service", "--quiet"] + (["--standalone"] if mode == "standalone" else [])
    done, orphans = 0, []
    try:
        while done < kills:
            svc = IngestProcess(*args)
            progressed = _wait_for_progress(settings, _markers(settings), svc.proc)
            time.sleep(rng.uniform(0.0, 0.35))  # land anywhere: mid-decode, mid-write, mid-commit
            svc.kill()
            orphans += wait_until_gone(svc.tag, timeout=5)
            assert progressed, f"the restarted service made no progress:\n{svc.log()[-2000:]}"
            done += 1
    finally:
        trickle.stop()  # the stream flowed during every kill; stop it and reconcile what was sent
    drain = subprocess.run([sys.executable, "-m", "leap.cli", "ingest", "--bounded", "--quiet"],
                           capture_output=True, text=True, timeout=300)
    assert drain.returncode == 0, drain.stderr
    ids = landed_ids(settings.data_dir)
    dupes = [i for i, n in Counter(ids).items() if n > 1]
    expected = stream.valid_ids_in(trickle.sent)
    print(f"\ncrash test on {broker} ({mode}): kills {done}, produced {trickle.sent}, landed {len(set(ids))}, "
          f"lost {len(expected - set(ids))}, duplicated {len(dupes)}, processes left behind {len(orphans)}")
    assert not dupes, f"{len(dupes)} submissions stored twice"
    assert len(expected) > 1000
    assert set(ids) == expected, f"missing {len(expected - set(ids))}, unexpected {len(set(ids) - expected)}"
    assert done >= kills
    # no staged leftovers once a clean run has recovered every partition
    staged = [p for p in (settings.layout.ingest_log / settings.topic).rglob("staging/*")]
    assert staged == []
    assert orphans == [], "decode workers or the resource tracker outlived a killed service"
