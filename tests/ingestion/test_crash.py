"""Crash safety: SIGKILL the ingestion service at 20+ random points while a stream flows.

After every kill the service is restarted; at the end one bounded drain catches up. The lake
must then hold exactly the valid submissions produced, each once.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter

import pytest
from support.lake import landed_ids
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


@pytest.mark.parametrize(("mode", "kills"), [("standalone", 20), ("group", 4)])
def test_sigkill_at_random_points_loses_and_duplicates_nothing(platform, monkeypatch, mode, kills):
    """Standalone: 20 kills. Group mode (static membership): fewer, each restart waits for a join."""
    monkeypatch.setenv("LEAP_FLUSH_RECORDS", "120")
    monkeypatch.setenv("LEAP_FLUSH_SECONDS", "0.3")
    monkeypatch.setenv("LEAP_CONSUMER_SESSION_TIMEOUT_MS", "6000")
    monkeypatch.setenv("LEAP_CONSUMER_INSTANCE_ID", "ingest-crash-test")
    stream = make_stream(40000, seed=11, malformed_every=40, resubmit_every=30)
    rng = random.Random(2024)
    stop = threading.Event()
    sent = [0]
    producer = threading.Thread(target=_trickle, args=(platform, stream.records, stop, 400, sent))
    producer.start()
    cmd = [sys.executable, "-m", "leap.cli", "ingest", "--service", "--quiet"]
    cmd += ["--standalone"] if mode == "standalone" else []
    done = 0
    try:
        while done < kills:
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            progressed = _wait_for_progress(platform, _markers(platform), proc)
            time.sleep(rng.uniform(0.0, 0.35))  # land anywhere: mid-decode, mid-write, mid-commit
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            assert progressed, "the restarted service made no progress"
            done += 1
    finally:
        stop.set()  # the stream flowed during every kill; stop it and reconcile what was sent
        producer.join(timeout=300)
    drain = subprocess.run([sys.executable, "-m", "leap.cli", "ingest", "--bounded", "--quiet"],
                           capture_output=True, text=True, timeout=300)
    assert drain.returncode == 0, drain.stderr
    ids = landed_ids(platform.data_dir)
    dupes = [i for i, n in Counter(ids).items() if n > 1]
    assert not dupes, f"{len(dupes)} submissions stored twice"
    expected = _expected_ids(stream, sent[0])
    assert len(expected) > 1000
    assert set(ids) == expected, f"missing {len(expected - set(ids))}, unexpected {len(set(ids) - expected)}"
    assert done >= kills
    # no staged leftovers once a clean run has recovered every partition
    staged = [p for p in (platform.layout.ingest_log / platform.topic).rglob("staging/*")]
    assert staged == []
    # the decode worker of a killed process does not outlive it
    time.sleep(1)
    orphans = subprocess.run(["pgrep", "-f", "multiprocessing.spawn"], capture_output=True, text=True).stdout.split()
    assert str(os.getpid()) not in orphans
