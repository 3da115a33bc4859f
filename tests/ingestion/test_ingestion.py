"""Ingestion on the real embedded broker: round trip, dead letters, resubmissions, two consumers."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter

import pyarrow.parquet as pq
import pytest
from kafka import KafkaConsumer, TopicPartition
from support.lake import landed_ids, raw_rows
from support.streams import TEST_KEY, make_stream, produce

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
    stream = make_stream(3000, seed=4)
    produce(platform, stream.records)
    procs = [subprocess.Popen([sys.executable, "-m", "leap.cli", "ingest", "--bounded", "--quiet"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=240)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    ids = landed_ids(platform.data_dir)
    assert len(ids) == len(set(ids)) == len(stream.valid_ids)
    assert set(ids) == stream.valid_ids
    parts = {r[0] for r in raw_rows(platform.data_dir, "kafka_partition")}
    assert len(parts) == platform.topic_partitions
    landed = [int(re.search(r"landed (\d+) submissions", out).group(1)) for out in outputs]
    assert sum(landed) == len(stream.valid_ids)
    assert all(n > 0 for n in landed), f"both consumers should have owned partitions: {landed}"


def test_broker_reset_starts_a_new_log_and_loses_nothing(platform):
    """The embedded broker keeps topics in memory: after a restart offsets begin at 0 again.

    The sink keys its commit log by cluster id, so the new log does not collide with the old
    markers or file names, and submissions stored before the reset are still stored once.
    """
    from ingestion.broker import embedded_broker, ensure_topics

    first = make_stream(400, seed=21)
    produce(platform, first.records)
    run_ingestion(platform, "bounded", workers=0, progress=False, standalone=True)
    broker = embedded_broker(platform)
    broker.stop()
    broker.start()
    ensure_topics(platform)
    second = make_stream(300, seed=22)
    produce(platform, second.records + first.records[:100])  # new data, plus a partner re-sending old data
    stats = run_ingestion(platform, "bounded", workers=0, progress=False, standalone=True)
    assert stats.landed == len(second.valid_ids) and stats.duplicates == 100
    ids = landed_ids(platform.data_dir)
    assert len(ids) == len(set(ids)) == len(first.valid_ids | second.valid_ids)
    logs = list((platform.layout.ingest_log / platform.topic).glob("cluster=*"))
    assert len(logs) == 2, "one commit log per broker incarnation"


def test_parallel_bounded_drain_splits_partitions_exactly_once(platform):
    stream = make_stream(2000, seed=31, malformed_every=50, resubmit_every=40)
    produce(platform, stream.records)
    proc = subprocess.run([sys.executable, "-m", "leap.cli", "ingest", "--bounded", "--processes", "2", "--quiet"],
                          capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr
    assert f"landed {len(stream.valid_ids)} submissions" in proc.stdout
    ids = landed_ids(platform.data_dir)
    assert sorted(ids) == sorted(stream.valid_ids)
