"""Reliability on Apache Kafka: the broker killed and restarted, a broker of a three-node cluster killed,
one of three ingestion processes killed. Each test streams while it breaks something, then reconciles
the lake against what was produced and prints the counts."""

from __future__ import annotations

import time
from collections import Counter

import pytest
from support.kafka import TEST_KEY, free_port, isolate, start_kafka
from support.lake import landed_ids
from support.services import IngestProcess
from support.streams import Stream, Trickle, make_stream, produce

from ingestion.broker import ensure_topics
from ingestion.embedded import KafkaBroker, NodeSpec
from ingestion.embedded.kafka import new_cluster_id
from leap.config import load_settings

pytestmark = [pytest.mark.broker, pytest.mark.slow]


def reconcile(label: str, stream: Stream, trickle: Trickle, data_dir, **counts) -> None:
    """The lake holds exactly the valid submissions sent, each once; print the counts."""
    ids = landed_ids(data_dir)
    expected = stream.valid_ids_in(trickle.sent)
    dupes = sum(n - 1 for n in Counter(ids).values() if n > 1)
    lost = len(expected - set(ids))
    print(f"\n{label}: produced {trickle.sent}, acknowledged {len(trickle.acked)}, failed sends {len(trickle.failed)} "
          f"(re-sent), landed {len(set(ids))}, lost {lost}, duplicated {dupes}, "
          + ", ".join(f"{k} {v}" for k, v in counts.items()))
    assert dupes == 0, f"{dupes} submissions stored twice"
    assert lost == 0, f"{lost} submissions lost"
    assert set(ids) == expected


def drain(settings) -> None:
    svc = IngestProcess("--bounded", "--quiet")
    assert svc.proc.wait(timeout=300) == 0, svc.log()


@pytest.fixture
def own_kafka(tmp_path):
    """An Apache Kafka of this test alone (the test kills it)."""
    broker = start_kafka(tmp_path / "kafka")
    mp = pytest.MonkeyPatch()
    isolate(mp, tmp_path / "data", broker.bootstrap)
    settings = load_settings()
    ensure_topics(settings)
    yield settings, broker
    broker.stop()
    mp.undo()


def test_broker_sigkilled_mid_stream_and_restarted_loses_nothing_acknowledged(own_kafka):
    settings, broker = own_kafka
    stream = make_stream(8000, seed=51, malformed_every=50, resubmit_every=40)
    trickle = Trickle(settings, stream.records, per_second=800).start()
    svc = IngestProcess("--service", "--quiet", "--standalone")
    restarts = 0
    try:
        time.sleep(3)
        acked_before = len(trickle.acked)
        broker.kill()  # SIGKILL: no clean shutdown, acknowledged records must already be safe
        time.sleep(2)
        broker.start(timeout=90)
        trickle.join()
        if svc.proc.poll() is not None:  # a supervisor would restart it; count it
            restarts += 1
            svc = IngestProcess("--service", "--quiet", "--standalone")
        resend = trickle.unacknowledged()  # what the producer could not confirm, sent again
        if resend:
            produce(settings, resend)
        time.sleep(3)
    finally:
        svc.stop()
    drain(settings)
    assert acked_before > 0 and len(trickle.acked) > acked_before
    reconcile("broker SIGKILL", stream, trickle, settings.data_dir, **{"broker kills": 1, "service restarts": restarts})


def _wait_for_landed(settings, timeout: float) -> int:
    """Rows landed once the service has flushed something (2 s flushes; longer on a loaded machine)."""
    deadline = time.monotonic() + timeout
    while not (landed := len(landed_ids(settings.data_dir))) and time.monotonic() < deadline:
        time.sleep(0.2)
    return landed


def test_sigkilled_node_of_a_three_broker_cluster_stops_nothing(tmp_path):
    """Replication 3, min.insync.replicas 2: with one of three brokers killed mid-stream, producers
    (acks=all) and the ingestion carry on, and nothing is lost or duplicated."""
    nodes = start_cluster(tmp_path, 3)
    mp = pytest.MonkeyPatch()
    try:
        isolate(mp, tmp_path / "data", ",".join(n.bootstrap for n in nodes), TEST_KEY)
        mp.setenv("LEAP_TOPIC_REPLICATION", "3")
        settings = load_settings()
        ensure_topics(settings)
        stream = make_stream(6000, seed=52, malformed_every=60, resubmit_every=50)
        trickle = Trickle(settings, stream.records, per_second=800).start()
        svc = IngestProcess("--service", "--quiet")
        try:
            assert svc.wait_for(r"assigned partitions \[[0-9]", timeout=60), svc.log()
            landed_before = _wait_for_landed(settings, timeout=30)  # the kill lands mid-stream, after a flush
            nodes[0].kill()
            trickle.join()
            failed_sends = len(trickle.failed)
            if trickle.unacknowledged():
                produce(settings, trickle.unacknowledged())
            deadline = time.monotonic() + 120
            while len(set(landed_ids(settings.data_dir))) < len(stream.valid_ids_in(trickle.sent)):
                assert svc.proc.poll() is None, f"the ingestion stopped when a broker died:\n{svc.log()[-3000:]}"
                assert time.monotonic() < deadline, svc.log()[-3000:]
                time.sleep(0.3)
        finally:
            code = svc.stop()
        assert code == 0, svc.log()[-3000:]
        assert landed_before > 0
        reconcile("3-broker cluster, one killed", stream, trickle, settings.data_dir,
                  **{"brokers killed": 1, "failed sends": failed_sends})
    finally:
        mp.undo()
        for node in nodes:  # a throwaway cluster: a clean stop of its last node would wait for a quorum
            node.kill()


def test_one_of_three_ingestion_processes_killed_its_partitions_move(platform, monkeypatch):
    monkeypatch.setenv("LEAP_CONSUMER_SESSION_TIMEOUT_MS", "6000")
    services = [IngestProcess("--service", "--quiet") for _ in range(3)]
    stream = make_stream(6000, seed=53, malformed_every=50, resubmit_every=40)
    try:
        deadline = time.monotonic() + 90
        while {p for s in services for p in s.assigned()} != set(range(6)) or not all(s.assigned() for s in services):
            assert time.monotonic() < deadline, [s.log() for s in services]
            time.sleep(0.1)
        trickle = Trickle(platform, stream.records, per_second=800).start()
        time.sleep(2)
        victim, survivors = services[0], services[1:]
        orphaned = victim.assigned()
        victim.kill()
        killed_at = time.monotonic()
        while not orphaned <= {p for s in survivors for p in s.assigned()}:
            assert time.monotonic() - killed_at < 30, [s.log() for s in survivors]
            time.sleep(0.05)
        moved_after = time.monotonic() - killed_at
        trickle.join()
        if trickle.unacknowledged():
            produce(platform, trickle.unacknowledged())
        deadline = time.monotonic() + 120
        while len(set(landed_ids(platform.data_dir))) < len(stream.valid_ids_in(trickle.sent)):
            assert time.monotonic() < deadline
            time.sleep(0.3)
    finally:
        codes = [s.stop() for s in services[1:]]
    assert codes == [0, 0]
    assert moved_after <= 6 + 5, f"partitions {sorted(orphaned)} moved after {moved_after:.1f} s (session timeout 6 s)"
    reconcile("3 ingestion processes, one killed", stream, trickle, platform.data_dir,
              **{"partitions moved": len(orphaned), "moved after s": round(moved_after, 1)})


def start_cluster(root, n: int) -> list[KafkaBroker]:
    """n KRaft nodes on loopback, each broker and controller, a static quorum of all n."""
    voters = {i: free_port() for i in range(1, n + 1)}
    replicated = {"offsets.topic.replication.factor": str(n), "transaction.state.log.replication.factor": str(n),
                  "transaction.state.log.min.isr": "2", "share.coordinator.state.topic.replication.factor": str(n),
                  "share.coordinator.state.topic.min.isr": "2", "default.replication.factor": str(n),
                  "min.insync.replicas": "2"}
    cluster = new_cluster_id()
    nodes = [KafkaBroker(root / f"node{i}", free_port(), NodeSpec(node_id=i, voters=voters, heap="320m",
                                                                 overrides=replicated),
                         controller_port=voters[i], cluster_id=cluster) for i in voters]
    for node in nodes:
        node.start(wait=False)
    for node in nodes:
        node.wait_ready(180)
    return nodes
