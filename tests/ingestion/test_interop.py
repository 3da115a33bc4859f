"""Interoperability with a Kafka client nobody here wrote: kcat (librdkafka) on Apache Kafka.

kcat produces submissions with librdkafka's own partitioner (CRC32, not kafka-python's murmur2), so a
resubmission it sends lands in another partition than the original; both are stored once. kcat then
reads the dead-letter topic and its reason headers.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections import Counter

import pytest
from support.lake import landed_ids
from support.streams import make_stream, produce

from ingestion.consumer import run_ingestion

pytestmark = [pytest.mark.broker,
              pytest.mark.skipif(shutil.which("kcat") is None, reason="kcat missing: `make setup` installs it")]


def kcat(*args: str, data: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["kcat", *args], input=data, capture_output=True, timeout=60)


def test_kcat_produces_submissions_that_land_and_reads_dead_letters(platform):
    stream = make_stream(400, seed=41, malformed_every=20)
    # key<TAB>value lines; no value of the stream contains a tab or a newline
    lines = b"\n".join(k + b"\t" + v for k, v in stream.records) + b"\n"
    sent = kcat("-P", "-b", platform.bootstrap_servers, "-t", platform.topic, "-K", "\t", "-z", "zstd", data=lines)
    assert sent.returncode == 0, sent.stderr.decode()
    produce(platform, stream.records[:40])  # the same submissions again from kafka-python: other partitions
    stats = run_ingestion(platform, "bounded", workers=1, progress=False)

    ids = landed_ids(platform.data_dir)
    assert sorted(ids) == sorted(stream.valid_ids)
    assert stats.duplicates == sum(1 for i in range(40) if i not in stream.malformed)

    out = kcat("-C", "-b", platform.bootstrap_servers, "-t", platform.dlq_topic, "-e", "-q",
               "-f", "%s\\t%h\\n")
    assert out.returncode == 0, out.stderr.decode()
    rows = [line.rsplit("\t", 1) for line in out.stdout.decode().splitlines() if line]
    for _, headers in rows:
        assert f"leap.dlq.source.topic={platform.topic}," in headers  # the detail may hold commas: match keys
    got = Counter((value, re.search(r"leap\.dlq\.reason=([a-z_]+)", headers).group(1)) for value, headers in rows)
    sent_twice = [i for i in stream.malformed if i < 40]  # re-sent above: dead-lettered again, as new records
    planted = Counter((stream.records[i][1].decode(), stream.malformed[i]) for i in [*stream.malformed, *sent_twice])
    assert got == planted  # every malformed record sent, with the reason the stream planted


def test_kcat_reads_what_the_platform_produced(platform):
    stream = make_stream(50, seed=42)
    produce(platform, stream.records)
    out = kcat("-C", "-b", platform.bootstrap_servers, "-t", platform.topic, "-e", "-q", "-f", "%k\\t%s\\n")
    assert out.returncode == 0, out.stderr.decode()
    got = {json.loads(line.split("\t", 1)[1])["submission_id"] for line in out.stdout.decode().splitlines() if line}
    assert got == stream.valid_ids
