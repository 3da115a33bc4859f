"""Ingestion on Apache Kafka (and a smaller set on Tansu): round trip, dead letters, resubmissions, consumers."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections import Counter

import pyarrow.parquet as pq
import pytest
from kafka import KafkaConsumer, TopicPartition
from support.kafka import TEST_KEY
from support.lake import landed_ids, raw_rows
from support.services import IngestProcess
from support.streams import make_stream, produce

from ingestion.consumer import run_ingestion
from ingestion.pseudonym import Pseudonymizer
from leap.instrument import load_catalog

pytestmark = pytest.mark.broker


def _dlq_records(settings):
    consumer = KafkaConsumer(bootstrap_servers=settings.bootstrap_servers, auto_offset_reset="earliest",
                             enable_auto_commit=False, consumer_timeout_ms=3000)
    tps = [TopicPartition(settings.dlq_topic, p) for p in consumer.partitions_for_topic(settings.dlq_topic)]
    consumer.assign(tps)
    consumer.seek_to_beginning()
    out = list(consumer)
    consumer.close()
    return out


def test_round_trip_every_field_intact_and_pseudonymized(platform):
    stream = make_stream(600, seed=1, resubmit_every=25)
    produce(platform, stream.records)
    stats = run_ingestion(platform, "bounded", workers=0, progress=False)
    assert stats.landed == len(stream.valid_ids) and stats.duplicates == stream.resubmitted
    catalog = load_catalog()
    pseudo = Pseudonymizer(bytes.fromhex(TEST_KEY))
    files = sorted((platform.layout.raw).rglob("*.parquet"))
    assert files and all("instrument=" in str(f) and "school_year=2024-25" in str(f) for f in files)
    seen = 0
    for f in files:
        table = pq.read_table(f)
        assert table.schema.equals(catalog.raw_schema(table.column("instrument")[0].as_py()))
        for row in table.to_pylist():
            ev = stream.events[row["submission_id"]]
            assert row["respondent_key"] == pseudo.respondent_key(ev["school_id"], ev["respondent_id"])
            assert ev["respondent_id"] not in str(row.values())
            for col in ("instrument", "school_id", "school_year", "term", "grade_band", "sample"):
                assert row[col] == ev[col]
            assert row["submitted_at"].isoformat().startswith(ev["submitted_at"][:10])
            assert {k: row[k] for k in ev["responses"]} == ev["responses"]
            seen += 1
    assert seen == len(stream.valid_ids)
    # nothing raw on disk: the respondent ids never appear in any written byte
    blob = b"".join(p.read_bytes() for p in platform.data_dir.rglob("*") if p.is_file() and "run" not in p.parts)
    assert not any(ev["respondent_id"].encode() in blob for ev in list(stream.events.values())[:50])


def test_malformed_events_dead_lettered_with_reason_while_valid_ones_land(platform):
    stream = make_stream(500, seed=2, malformed_every=10)
    produce(platform, stream.records)
    stats = run_ingestion(platform, "bounded", workers=1, progress=False)
    assert stats.rejected == len(stream.malformed)
    assert sorted(landed_ids(platform.data_dir)) == sorted(stream.valid_ids)
    dlq = _dlq_records(platform)
    assert len(dlq) == len(stream.malformed)
    produced_by_value = {v: i for i, (_, v) in enumerate(stream.records)}
    for rec in dlq:
        headers = {k: v.decode() for k, v in rec.headers}
        expected = stream.malformed[produced_by_value[rec.value]]
        assert headers["leap.dlq.reason"] == expected
        assert headers["leap.dlq.source.topic"] == platform.topic
        assert int(headers["leap.dlq.source.offset"]) >= 0 and headers["leap.dlq.detail"]
    assert Counter(h for h in stream.malformed.values()) == Counter(
        dict(rec.headers)["leap.dlq.reason"].decode() for rec in dlq)


def test_rerun_is_idempotent(platform):
    stream = make_stream(300, seed=3)
    produce(platform, stream.records)
    run_ingestion(platform, "bounded", workers=0, progress=False)
    before = sorted(p.name for p in platform.layout.raw.rglob("*.parquet"))
    stats = run_ingestion(platform, "bounded", workers=0, progress=False)
    assert stats.landed == 0
    assert sorted(p.name for p in platform.layout.raw.rglob("*.parquet")) == before
    produce(platform, stream.records[:50])  # a partner re-sends a slice: stored once
    stats = run_ingestion(platform, "bounded", workers=0, progress=False)
    assert stats.landed == 0 and stats.duplicates == 50
    assert Counter(landed_ids(platform.data_dir)).most_common(1)[0][1] == 1


def test_two_consumers_share_the_partitions(platform):
    """Two services in one consumer group split the partitions; each submission lands once."""
    stream = make_stream(3000, seed=4)
    services = [IngestProcess("--service", "--quiet") for _ in range(2)]
    try:
        for svc in services:  # both have joined (the second join rebalanced the first)
            assert svc.wait_for(r"assigned partitions \[[0-9]", timeout=60), svc.log()
        deadline = time.monotonic() + 60
        while not (all(svc.assigned() for svc in services)
                   and set().union(*(svc.assigned() for svc in services)) == set(range(6))):
            assert time.monotonic() < deadline, [svc.log() for svc in services]
            time.sleep(0.1)
        produce(platform, stream.records)
        deadline = time.monotonic() + 120
        while len(landed_ids(platform.data_dir)) < len(stream.valid_ids) and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        codes = [svc.stop() for svc in services]
    assert codes == [0, 0], [svc.log() for svc in services]
    ids = landed_ids(platform.data_dir)
    assert len(ids) == len(set(ids)) == len(stream.valid_ids)
    assert set(ids) == stream.valid_ids
    landed = [int(re.search(r"landed (\d+) submissions", svc.stdout).group(1)) for svc in services]
    assert sum(landed) == len(stream.valid_ids)
    assert all(n > 0 for n in landed), f"both consumers should have landed submissions: {landed}"


def test_resubmission_in_another_partition_is_stored_once(platform):
    """The idempotency key holds across partitions: copies sent with other keys (another partitioner,
    another partition count) land in other partitions and are still stored once."""
    stream = make_stream(600, seed=8)
    produce(platform, stream.records)
    copies = [(f"other-key-{i}".encode(), value) for i, (_, value) in enumerate(stream.records[:120])]
    produce(platform, copies)  # the same submissions, spread over every partition by their new keys
    stats = run_ingestion(platform, "bounded", workers=0, progress=False)
    assert stats.duplicates == 120
    ids = landed_ids(platform.data_dir)
    assert len(ids) == len(set(ids)) == len(stream.valid_ids)
    moved = {r[0] for r in raw_rows(platform.data_dir, "kafka_partition")}
    assert len(moved) == platform.topic_partitions
    # and again in a later run, from a fresh process state (the registry on disk decides)
    produce(platform, [(f"third-key-{i}".encode(), v) for i, (_, v) in enumerate(stream.records[:60])])
    stats = run_ingestion(platform, "bounded", workers=1, progress=False)
    assert stats.landed == 0 and stats.duplicates == 60
    assert len(landed_ids(platform.data_dir)) == len(stream.valid_ids)


def test_parallel_bounded_drain_splits_partitions_exactly_once(platform):
    stream = make_stream(2000, seed=31, malformed_every=50, resubmit_every=40)
    produce(platform, stream.records)
    proc = subprocess.run([sys.executable, "-m", "leap.cli", "ingest", "--bounded", "--processes", "2", "--quiet"],
                          capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr
    assert f"landed {len(stream.valid_ids)} submissions" in proc.stdout
    ids = landed_ids(platform.data_dir)
    assert sorted(ids) == sorted(stream.valid_ids)


def test_the_chain_drains_a_large_backlog_with_a_process_per_core_and_a_small_one_here(platform, monkeypatch):
    """The drain task sizes itself by the records waiting (tasks.drain_processes): one process per
    DRAIN_RECORDS_PER_PROCESS (here 500, so 2,000 records need more), at most LEAP_WORKERS; with nothing
    waiting, one. Split over two processes, every valid submission lands once."""
    from leap.orchestration import tasks

    stream = make_stream(2000, seed=37, malformed_every=50, resubmit_every=40)
    assert tasks.drain_processes(platform) == 1
    produce(platform, stream.records)
    monkeypatch.setenv("LEAP_WORKERS", "2")
    assert tasks.drain_processes(platform) == 1  # 2,000 waiting: not worth a second process
    monkeypatch.setattr(tasks, "DRAIN_RECORDS_PER_PROCESS", 500)
    assert tasks.drain_processes(platform) == 2
    import ingestion.consumer as consumer

    split, run_parallel = [], consumer.run_parallel_drain
    monkeypatch.setattr(consumer, "run_parallel_drain", lambda s, n, **kw: split.append(n) or run_parallel(s, n, **kw))
    out = tasks.drain(platform)
    assert split == [2]  # two drain processes did it
    assert out["landed"] == len(stream.valid_ids) and out["dead_lettered"] == len(stream.malformed)
    assert sorted(landed_ids(platform.data_dir)) == sorted(stream.valid_ids)
    assert tasks.drain_processes(platform) == 1  # drained: nothing waits


# --------------------------------------------------------------------------- Tansu (memory-only)


def test_on_tansu_round_trip_and_dead_letters(tansu):
    """The smaller set that also runs on the memory-only broker: round trip, reasons, resubmissions."""
    stream = make_stream(500, seed=2, malformed_every=10, resubmit_every=25)
    produce(tansu, stream.records)
    stats = run_ingestion(tansu, "bounded", workers=1, progress=False)
    assert stats.rejected == len(stream.malformed) and stats.duplicates == stream.resubmitted
    assert sorted(landed_ids(tansu.data_dir)) == sorted(stream.valid_ids)
    dlq = _dlq_records(tansu)
    assert Counter(stream.malformed.values()) == Counter(dict(r.headers)["leap.dlq.reason"].decode() for r in dlq)
    _assert_status_caught_up(tansu, stream)


def test_status_shows_no_lag_and_what_landed(platform):
    stream = make_stream(400, seed=6, malformed_every=20)
    produce(platform, stream.records)
    run_ingestion(platform, "bounded", workers=0, progress=False)
    _assert_status_caught_up(platform, stream)


def test_status_lag_counts_what_the_next_drain_reads_not_the_group_offset(platform):
    """A lake emptied on a kept broker: the group's committed offsets are at the log's end, but the
    consumer resumes where the lake's commit log ends (here: nowhere, the log's start), so the whole
    topic is waiting; the lag (which sizes the drain: tasks.drain_processes) says so."""
    import shutil

    from ingestion.status import collect_status

    stream = make_stream(300, seed=8, malformed_every=25)
    produce(platform, stream.records)
    run_ingestion(platform, "bounded", workers=0, progress=False)
    _assert_status_caught_up(platform, stream)
    shutil.rmtree(platform.layout.lake)
    report = collect_status(platform)
    assert all(p.committed == p.log_end for p in report.partitions)  # the group is caught up
    assert report.total_lag == len(stream.records)
    run_ingestion(platform, "bounded", workers=0, progress=False)  # and the drain reads it all again
    report = collect_status(platform)
    assert report.total_lag == 0 and report.total_rows == len(stream.valid_ids)
    assert report.dlq_log_end == 2 * len(stream.malformed)  # the malformed dead-lettered again, with their reasons


def _assert_status_caught_up(settings, stream) -> None:
    from ingestion.status import collect_status

    report = collect_status(settings)
    assert report.broker_up and report.total_lag == 0
    assert sum(p.log_end for p in report.partitions) == len(stream.records)
    assert report.total_rows == len(stream.valid_ids) and report.dlq_log_end == len(stream.malformed)


def test_broker_reset_starts_a_new_log_and_loses_nothing(tansu):
    """Tansu keeps topics in memory: after a restart offsets begin at 0 again.

    The sink keys its commit log by cluster id, so the new log does not collide with the old
    markers or file names, and submissions stored before the reset are still stored once.
    """
    first = make_stream(400, seed=21)
    produce(tansu, first.records)
    run_ingestion(tansu, "bounded", workers=0, progress=False, standalone=True)
    _restart_tansu(tansu)
    second = make_stream(300, seed=22)
    produce(tansu, second.records + first.records[:100])  # new data, plus a partner re-sending old data
    stats = run_ingestion(tansu, "bounded", workers=0, progress=False, standalone=True)
    assert stats.landed == len(second.valid_ids) and stats.duplicates == 100
    ids = landed_ids(tansu.data_dir)
    assert len(ids) == len(set(ids)) == len(first.valid_ids | second.valid_ids)
    logs = list((tansu.layout.ingest_log / tansu.topic).glob("cluster=*"))
    assert len(logs) == 2, "one commit log per broker incarnation"


def test_broker_restart_under_a_running_service_skips_nothing(tansu):
    """A memory-only broker restarted while the (standalone) service runs: the records produced to the
    new broker must all land, although their offsets restart below the old log's markers (once 4,355
    were skipped). Group mode on Tansu across a restart: see docs/ingestion.md (it waits, never skips)."""
    first = make_stream(1500, seed=23)
    svc = IngestProcess("--service", "--quiet", "--standalone")
    try:
        produce(tansu, first.records)
        _wait_landed(tansu, len(first.valid_ids))
        _restart_tansu(tansu)
        second = make_stream(700, seed=24)
        produce(tansu, second.records)
        _wait_landed(tansu, len(first.valid_ids) + len(second.valid_ids))
    finally:
        assert svc.stop() == 0, svc.log()
    ids = landed_ids(tansu.data_dir)
    assert sorted(ids) == sorted(first.valid_ids | second.valid_ids), svc.log()[-3000:]
    assert "cluster changed" in svc.log()


def _restart_tansu(settings) -> None:
    from ingestion.broker import ensure_topics
    from ingestion.embedded import embedded_broker

    broker = embedded_broker(settings)
    broker.stop()
    broker.start()
    ensure_topics(settings)


def _wait_landed(settings, n: int, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while len(landed_ids(settings.data_dir)) < n and time.monotonic() < deadline:
        time.sleep(0.2)
