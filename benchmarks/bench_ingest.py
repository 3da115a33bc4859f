"""Ingestion benchmark: drain rate against bare kafka-python and confluent-kafka consumers, and
produce→Parquet latency.

    .venv/bin/python benchmarks/bench_ingest.py [--submissions 200000] [--workers 0 1 2]

Runs on a fresh embedded broker (Apache Kafka, or Tansu with ``LEAP_EMBEDDED_BROKER=tansu``) on a
free port, in a temporary data directory:

1. simulates ``--submissions`` records (1% malformed, 1% resubmitted) and produces them (acks=all,
   idempotent on Kafka);
2. **bare consumers**: kafka-python with manual assignment iterating every record of the
   topic, doing nothing else (the fastest this client reads this broker; the ratios are against it),
   the same loop with the ingestion's lean unpacking installed (``ingestion.kafka_records``), and confluent-kafka
   (librdkafka) consuming the same topic in batches of 10,000 (skipped on Tansu, whose
   ApiVersions handshake librdkafka cannot read);
3. **ingestion**: ``run_ingestion(bounded, standalone)`` draining the same records into
   Parquet (validation, pseudonymization, dedupe, DLQ, durable commit), once per
   ``--workers`` setting, each into an empty lake; rate = records consumed / wall time from
   start to exit;
4. **latency**: the ingestion service (default flush settings, default ``--workers``) while
   fresh submissions (a second simulation, another seed) are produced at a steady rate; per
   submission, the time from ``send()`` to its batch's durable commit (the marker's
   ``committed_at``), p50/p95.

Prints a table and writes ``benchmarks/out/ingest.json``. Not a test: numbers depend on the
machine; BENCHMARKS.md records them with the machine they came from.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _settings(data_dir: Path, port: int):
    os.environ["LEAP_DATA_DIR"] = str(data_dir)
    os.environ["LEAP_EMBEDDED_BROKER_PORT"] = str(port)
    os.environ.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    os.environ.pop("LEAP_TOPIC_PREFIX", None)
    os.environ.setdefault("LEAP_PSEUDONYM_KEY", "42" * 32)
    from leap.config import load_settings

    return load_settings()


def bare_consumer_rate(settings, total: int) -> float:
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=settings.bootstrap_servers, enable_auto_commit=False,
                             auto_offset_reset="earliest", max_partition_fetch_bytes=8 * 1024 * 1024,
                             fetch_max_bytes=64 * 1024 * 1024, receive_message_max_bytes=128 * 1024 * 1024)
    tps = [TopicPartition(settings.topic, p) for p in sorted(consumer.partitions_for_topic(settings.topic))]
    consumer.assign(tps)
    consumer.seek_to_beginning()
    n = 0
    start = time.perf_counter()
    for _ in consumer:  # the plain iterator: what "only iterates the topic" means
        n += 1
        if n >= total:
            break
    elapsed = time.perf_counter() - start
    consumer.close()
    return n / elapsed


def bare_confluent_rate(settings, total: int) -> float | None:
    """confluent-kafka (librdkafka, C) reading every record: the ceiling of a Python Kafka client."""
    if settings.on_tansu:
        return None
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    from ingestion.broker import partitions_for

    consumer = Consumer({"bootstrap.servers": settings.bootstrap_servers, "group.id": "bench-bare-confluent",
                         "enable.auto.commit": False, "fetch.max.bytes": 64 * 1024 * 1024,
                         "max.partition.fetch.bytes": 8 * 1024 * 1024})
    consumer.assign([TopicPartition(settings.topic, p, OFFSET_BEGINNING) for p in partitions_for(settings, settings.topic)])
    n = 0
    start = time.perf_counter()
    while n < total:
        for msg in consumer.consume(num_messages=10_000, timeout=1.0):
            if msg.error() is None:
                msg.value()
                n += 1
    elapsed = time.perf_counter() - start
    consumer.close()
    return n / elapsed


def ingestion_rate(settings, workers: int) -> tuple[float, int]:
    from ingestion.consumer import run_ingestion

    shutil.rmtree(settings.layout.lake, ignore_errors=True)
    start = time.perf_counter()
    stats = run_ingestion(settings, "bounded", workers=workers, progress=False, standalone=True)
    return stats.consumed / (time.perf_counter() - start), stats.landed


def parallel_rates(settings, processes: int) -> dict:
    """`leap ingest --bounded --processes N`: wall rate (process start to exit) and drain rate
    (first record polled to last batch durable, the same window the bare consumer is timed over)."""
    from ingestion.consumer import run_parallel_drain

    shutil.rmtree(settings.layout.lake, ignore_errors=True)
    start = time.perf_counter()
    stats = run_parallel_drain(settings, processes, progress=False)
    wall = time.perf_counter() - start
    drain = stats.finished_at - stats.first_record_at
    return {"processes": processes, "landed": stats.landed, "wall_rate": round(stats.consumed / wall),
            "drain_rate": round(stats.consumed / drain)}


def _committed(settings) -> dict[str, float]:
    """submission id -> commit time (the marker's ``committed_at``) of every marker so far."""
    out: dict[str, float] = {}
    for marker in (settings.layout.ingest_log / settings.topic).rglob("*.json"):
        m = json.loads(marker.read_bytes())
        committed = datetime.fromisoformat(m["committed_at"]).timestamp()
        out.update(dict.fromkeys(m["submission_ids"], committed))
    return out


def latency(settings, records, rate: int, seconds: float, workers: int | None = None) -> dict:
    """Service mode at the default flush settings; produce ``rate`` fresh records/s for ``seconds``.

    ``records`` must be submissions the lake has not seen (another simulation seed): the
    service resumes from the lake's markers at the end of the topic, a warm-up slice shows it
    is consuming, then every valid record's latency is its marker's ``committed_at`` minus the
    time just before its ``send()``.
    """
    from ingestion.broker import make_producer

    env = {**os.environ, "LEAP_CONSUMER_GROUP": "leap-latency"}
    for var in ("LEAP_FLUSH_SECONDS", "LEAP_FLUSH_RECORDS"):
        env.pop(var, None)
    cmd = [sys.executable, "-m", "leap.cli", "ingest", "--service", "--standalone", "--quiet"]
    cmd += [] if workers is None else ["--workers", str(workers)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    producer = make_producer(settings, linger_ms=5)
    valid = [(r.key, r.value, json.loads(r.value)["submission_id"]) for r in records if r.reason is None]
    warmup, timed = valid[:200], valid[200:200 + int(rate * seconds)]
    try:
        for key, value, _ in warmup:
            producer.send(settings.topic, key=key, value=value)
        producer.flush()
        deadline = time.monotonic() + 120
        while warmup[-1][2] not in _committed(settings):
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("the ingestion service did not commit the warm-up records")
            time.sleep(0.2)
        sent_at: dict[str, float] = {}
        t0 = time.time()
        for i, (key, value, sid) in enumerate(timed):
            delay = t0 + i / rate - time.time()
            if delay > 0:
                time.sleep(delay)
            sent_at.setdefault(sid, time.time())
            producer.send(settings.topic, key=key, value=value)
        producer.flush()
        deadline = time.monotonic() + 60
        while not set(sent_at) <= (committed := _committed(settings)).keys() and time.monotonic() < deadline:
            time.sleep(0.5)
    finally:
        producer.close()
        proc.terminate()
        proc.wait(timeout=60)
    lat = sorted(committed[s] - t for s, t in sent_at.items() if s in committed)
    return {"records": len(lat), "missing": len(sent_at) - len(lat), "rate_per_s": rate,
            "p50_s": round(statistics.median(lat), 3), "p95_s": round(lat[int(0.95 * (len(lat) - 1))], 3),
            "max_s": round(lat[-1], 3)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--submissions", type=int, default=200_000)
    ap.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--processes", type=int, nargs="*", default=[2],
                    help="also measure `leap ingest --processes N` bounded drains")
    ap.add_argument("--latency-rate", type=int, default=2000)
    ap.add_argument("--latency-seconds", type=float, default=20)
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    from ingestion.broker import ensure_topics
    from ingestion.embedded import embedded_broker
    from ingestion.embedded.process import free_port

    tmp = Path(tempfile.mkdtemp(prefix="leap-bench-"))
    settings = _settings(tmp / "data", free_port())
    from ingestion.producer import produce
    from simulator import SimConfig, simulate

    broker = embedded_broker(settings)
    broker.start()
    results: dict = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
                     "submissions": args.submissions}
    try:
        ensure_topics(settings)
        t = time.perf_counter()
        sim = simulate(SimConfig(seed=7, malformed_share=0.01).scaled_to(args.submissions))
        results["simulate_s"] = round(time.perf_counter() - t, 1)
        t = time.perf_counter()
        produce(sim.records, settings, progress=False)
        results["produce_rate"] = round(len(sim.records) / (time.perf_counter() - t))
        results["records"] = len(sim.records)
        results["broker"] = broker.kind
        results["bare_rate"] = round(bare_consumer_rate(settings, len(sim.records)))
        from ingestion import kafka_records  # the ingestion's own unpacking, in the same bare loop

        kafka_records.install()
        results["bare_lean_rate"] = round(bare_consumer_rate(settings, len(sim.records)))
        confluent = bare_confluent_rate(settings, len(sim.records))
        results["bare_confluent_rate"] = round(confluent) if confluent else None
        print(f"bare kafka-python {results['bare_rate']:,}/s (with ingestion.kafka_records "
              f"{results['bare_lean_rate']:,}/s); bare confluent-kafka "
              f"{results['bare_confluent_rate'] or 'n/a'}/s", flush=True)
        results["ingest"] = {}
        for w in args.workers:
            rate, landed = ingestion_rate(settings, w)
            results["ingest"][w] = {"rate": round(rate), "ratio": round(rate / results["bare_rate"], 2),
                                    "landed": landed}
            print(f"workers={w}: {rate:,.0f} records/s ({rate / results['bare_rate']:.2f}x bare)", flush=True)
        # fresh submissions (another seed): the lake already holds every record produced above
        fresh = simulate(SimConfig(seed=8).scaled_to(int(args.latency_rate * args.latency_seconds) + 400))
        for n in args.processes:
            r = parallel_rates(settings, n)
            r["drain_ratio"] = round(r["drain_rate"] / results["bare_rate"], 2)
            r["wall_ratio"] = round(r["wall_rate"] / results["bare_rate"], 2)
            results.setdefault("parallel", []).append(r)
            print(f"processes={n}: drain {r['drain_rate']:,}/s ({r['drain_ratio']}x bare), "
                  f"wall {r['wall_rate']:,}/s ({r['wall_ratio']}x)", flush=True)
        results["latency"] = latency(settings, fresh.records, args.latency_rate, args.latency_seconds)
        print(f"latency: {results['latency']}", flush=True)
    finally:
        broker.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    out = ROOT / "benchmarks" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "ingest.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
