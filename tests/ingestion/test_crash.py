"""Crash safety: SIGKILL the ingestion service at 30+ random points while a stream flows.

After every kill the service is restarted; at the end one bounded drain catches up. The lake
must then hold exactly the valid submissions produced, each once.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import threading
import time
from collections import Counter

import pytest
from support.lake import landed_ids
from support.services import IngestProcess, wait_until_gone
from support.streams import make_stream

from ingestion.broker import make_producer

pytestmark = [pytest.mark.broker, pytest.mark.slow]


def _markers(settings) -> int:
    return sum(1 for _ in (settings.layout.ingest_log / settings.topic).rglob("*.json"))


def _trickle(settings, records, stop: threading.Event, per_second: int, sent: list) -> None:
    """Produce at a steady rate until the records run out or ``stop`` is set; count what was sent."""
    producer = make_producer(settings, linger_ms=5)
    for i, (key, value) in enumerate(records):
        producer.send(settings.topic, key=key, value=value)
        if i % 50 == 49:
            producer.flush()
            sent[0] = i + 1
            if stop.is_set():
                break
            time.sleep(50 / per_second)
    else:
        sent[0] = len(records)
    producer.flush()
    producer.close()


def _expected_ids(stream, n_sent: int) -> set[str]:
    ids = set()
    for i, (_, value) in enumerate(stream.records[:n_sent]):
        if i not in stream.malformed:
            ids.add(json.loads(value)["submission_id"])
    return ids


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
    stop = threading.Event()
    sent = [0]
    producer = threading.Thread(target=_trickle, args=(settings, stream.records, stop, 400, sent))
    producer.start()
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
        stop.set()  # the stream flowed during every kill; stop it and reconcile what was sent
        producer.join(timeout=300)
    drain = subprocess.run([sys.executable, "-m", "leap.cli", "ingest", "--bounded", "--quiet"],
                           capture_output=True, text=True, timeout=300)
    assert drain.returncode == 0, drain.stderr
    ids = landed_ids(settings.data_dir)
    dupes = [i for i, n in Counter(ids).items() if n > 1]
    expected = _expected_ids(stream, sent[0])
    print(f"\ncrash test on {broker} ({mode}): kills {done}, produced {sent[0]}, landed {len(set(ids))}, "
          f"lost {len(expected - set(ids))}, duplicated {len(dupes)}, processes left behind {len(orphans)}")
    assert not dupes, f"{len(dupes)} submissions stored twice"
    assert len(expected) > 1000
    assert set(ids) == expected, f"missing {len(expected - set(ids))}, unexpected {len(set(ids) - expected)}"
    assert done >= kills
    # no staged leftovers once a clean run has recovered every partition
    staged = [p for p in (settings.layout.ingest_log / settings.topic).rglob("staging/*")]
    assert staged == []
    assert orphans == [], "decode workers or the resource tracker outlived a killed service"
