"""`leap broker start|stop|status` on the embedded Apache Kafka: durable, clear when it cannot start."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys

import pytest
from kafka import KafkaConsumer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.structs import OffsetAndMetadata
from support.kafka import TEST_KEY, free_port
from support.streams import make_stream, produce

from ingestion.broker import ensure_topics
from leap.config import load_settings
from leap.errors import LeapError

pytestmark = pytest.mark.broker


def leap(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "leap.cli", *args], capture_output=True, text=True,
                          env=env, timeout=180)


@pytest.fixture
def embedded_env(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "LEAP_"))}
    env.update(LEAP_DATA_DIR=str(tmp_path / "data"), LEAP_EMBEDDED_BROKER_PORT=str(free_port()),
               LEAP_PSEUDONYM_KEY=TEST_KEY, LEAP_KAFKA_HEAP="256m")
    yield env
    leap("broker", "stop", env=env)


def _settings(env, monkeypatch):
    for k, v in env.items():
        if k.startswith("LEAP_"):
            monkeypatch.setenv(k, v)
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    monkeypatch.delenv("LEAP_TOPIC_PREFIX", raising=False)
    return load_settings()


def test_start_stop_start_keeps_topics_records_offsets_and_cluster(embedded_env, monkeypatch):
    start = leap("broker", "start", env=embedded_env)
    assert start.returncode == 0, start.stderr
    assert re.search(r"Apache Kafka 4\.\d+\.\d+ \(embedded\) started", start.stdout), start.stdout
    status = leap("broker", "status", env=embedded_env)
    assert status.returncode == 0 and "up" in status.stdout and "6 partitions" in status.stdout, status.stdout
    cluster = re.search(r"cluster id \(from the broker\): (\S+)", status.stdout).group(1)

    settings = _settings(embedded_env, monkeypatch)
    stream = make_stream(300, seed=5)
    produce(settings, stream.records)
    tp = TopicPartition(settings.topic, 0)
    group = KafkaConsumer(bootstrap_servers=settings.bootstrap_servers, group_id="durability-check",
                          enable_auto_commit=False)
    group.commit({tp: OffsetAndMetadata(7, "", -1)})
    group.close()

    stop = leap("broker", "stop", env=embedded_env)
    assert stop.returncode == 0 and "stopped" in stop.stdout and "data stays" in stop.stdout
    down = leap("broker", "status", env=embedded_env)
    assert down.returncode == 3 and "DOWN" in down.stdout

    again = leap("broker", "start", env=embedded_env)
    assert again.returncode == 0, again.stderr
    status = leap("broker", "status", env=embedded_env)
    assert f"cluster id (from the broker): {cluster}" in status.stdout
    consumer = KafkaConsumer(bootstrap_servers=settings.bootstrap_servers, group_id="durability-check",
                             enable_auto_commit=False, auto_offset_reset="earliest", consumer_timeout_ms=5000)
    assert consumer.committed(tp) == 7
    consumer.close()
    reader = KafkaConsumer(bootstrap_servers=settings.bootstrap_servers, enable_auto_commit=False,
                           auto_offset_reset="earliest", consumer_timeout_ms=5000)
    parts = [TopicPartition(settings.topic, p) for p in reader.partitions_for_topic(settings.topic)]
    reader.assign(parts)
    assert sum(reader.end_offsets(parts).values()) == len(stream.records)
    reader.close()


def test_a_taken_port_is_named(embedded_env):
    with socket.socket() as s:
        s.bind(("127.0.0.1", int(embedded_env["LEAP_EMBEDDED_BROKER_PORT"])))
        s.listen()
        out = leap("broker", "start", env=embedded_env)
    assert out.returncode == 3
    assert f"port {embedded_env['LEAP_EMBEDDED_BROKER_PORT']} is taken" in out.stderr
    assert "hint: set LEAP_EMBEDDED_BROKER_PORT" in out.stderr and "Traceback" not in out.stderr


def test_without_java_17_it_says_what_to_install(embedded_env, tmp_path):
    java = tmp_path / "jdk11" / "bin" / "java"
    java.parent.mkdir(parents=True)
    java.write_text('#!/bin/sh\necho \'openjdk version "11.0.22" 2024-01-16\' >&2\n')
    java.chmod(0o755)
    out = leap("broker", "start", env={**embedded_env, "JAVA_HOME": str(tmp_path / "jdk11")})
    assert out.returncode == 3
    assert "is Java 11; Apache Kafka 4 needs Java 17 or later" in out.stderr
    assert "openjdk-17-jre-headless" in out.stderr and "LEAP_EMBEDDED_BROKER=tansu" in out.stderr


def test_without_the_fetched_jars_it_says_run_make_setup(embedded_env, tmp_path):
    out = leap("broker", "start", env={**embedded_env, "LEAP_KAFKA_HOME": str(tmp_path / "nothing")})
    assert out.returncode != 0
    assert "Apache Kafka is not fetched" in out.stderr and "make setup" in out.stderr


def test_tansu_on_request_and_every_command_says_which(embedded_env):
    env = {**embedded_env, "LEAP_EMBEDDED_BROKER": "tansu"}
    out = leap("broker", "start", env=env)
    assert out.returncode == 0 and "Tansu (memory-only) (embedded) started" in out.stdout, out.stderr
    status = leap("broker", "status", env=env)
    assert "Tansu" in status.stdout and "discarded when the broker stops" in status.stdout
    assert "Tansu" in leap("broker", "stop", env=env).stdout
    bad = leap("broker", "status", env={**embedded_env, "LEAP_EMBEDDED_BROKER": "redpanda"})
    assert bad.returncode == 2 and "not one of kafka, tansu" in bad.stderr


def test_a_topic_with_another_partition_count_is_an_error(platform):
    """Once a client's metadata request auto-created the topic with 4 partitions and nobody noticed."""
    admin = KafkaAdminClient(bootstrap_servers=platform.bootstrap_servers)
    admin.delete_topics([platform.topic])
    admin.close()
    import time

    deadline = time.monotonic() + 30
    while True:  # deletion is asynchronous
        try:
            admin = KafkaAdminClient(bootstrap_servers=platform.bootstrap_servers)
            admin.create_topics([NewTopic(platform.topic, 4, 1)])
            admin.close()
            break
        except Exception:  # noqa: BLE001 - TopicAlreadyExists while the deletion completes
            assert time.monotonic() < deadline
            time.sleep(0.5)
    with pytest.raises(LeapError, match=r"exists with 4 partitions, but LEAP_TOPIC_PARTITIONS .* asks for 6"):
        ensure_topics(platform)


def test_no_client_auto_creates_a_topic(platform):
    """Producers and consumers of the platform ask for metadata without creating what they ask about."""
    from ingestion.broker import metadata_consumer

    consumer = metadata_consumer(platform)
    assert not consumer.partitions_for_topic(f"{platform.topic}.not-there")
    consumer.close()
    admin = KafkaAdminClient(bootstrap_servers=platform.bootstrap_servers)
    assert f"{platform.topic}.not-there" not in admin.list_topics()
    admin.close()


def test_cluster_ids_are_kafka_uuids_and_never_look_like_options():
    import base64

    from ingestion.embedded.kafka import new_cluster_id

    ids = [new_cluster_id() for _ in range(5000)]  # ~78 would start with "-" without the guard
    assert not any(i.startswith("-") for i in ids)
    assert all(len(base64.urlsafe_b64decode(i + "==")) == 16 for i in ids)


@pytest.fixture
def outgoing_connection():
    """A connected client socket; its local port is what the kernel picked from the ephemeral range."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        with socket.create_connection(server.getsockname()) as client:
            yield client.getsockname()[1]


def test_a_port_held_by_an_outgoing_connection_is_not_free(outgoing_connection):
    """CI saw a test broker die with "Address already in use" on a controller port nobody listened
    on: a client connection held it as its local port. Nothing accepts there, yet nothing can bind it."""
    from ingestion.embedded.process import port_free, port_taken

    assert not port_taken(outgoing_connection)  # what the start used to check
    assert not port_free(outgoing_connection)


def test_free_ports_are_below_the_ephemeral_range_bindable_and_never_repeated():
    from ingestion.embedded.process import _ephemeral_low, port_free

    ports = [free_port() for _ in range(200)]
    assert len(set(ports)) == len(ports) and not {p + 1 for p in ports} & set(ports)
    assert max(ports) < _ephemeral_low()
    assert all(port_free(p) and port_free(p + 1) for p in ports)


def test_a_controller_port_held_by_a_connection_is_refused_before_kafka_starts(tmp_path, outgoing_connection):
    from ingestion.embedded import KafkaBroker, NodeSpec

    broker = KafkaBroker(tmp_path / "kafka", free_port(), NodeSpec(heap="256m"), controller_port=outgoing_connection)
    with pytest.raises(LeapError, match=f"port {outgoing_connection} is taken"):
        broker.start(timeout=30)
    assert broker.pid() is None and not (tmp_path / "kafka" / "data").exists()


def test_a_port_equal_to_the_kept_controller_port_is_refused_before_kafka_starts(tmp_path):
    """A kept broker home keeps its controller port (node.json); restarted on that same port as its
    listener, Kafka would exit with a stack trace about listeners (seen once in a benchmark's restart)."""
    from ingestion.embedded import KafkaBroker, NodeSpec

    port = free_port()
    broker = KafkaBroker(tmp_path / "kafka", port, NodeSpec(heap="256m"), controller_port=port)
    with pytest.raises(LeapError, match=f"port {port} is this broker's controller port"):
        broker.start(timeout=30)
    assert broker.pid() is None and not (tmp_path / "kafka" / "data").exists()


def test_a_failed_start_reports_the_first_error_ahead_of_the_stack_trace(tmp_path):
    from ingestion.embedded.process import log_tail

    log = tmp_path / "server.log"
    lines = ["[t] INFO starting"] * 5 + ["[t] ERROR Unable to start acceptor for CONTROLLER (kafka.network)",
                                         "KafkaException: Socket server failed to bind to 127.0.0.1:4: Address already in use."]
    log.write_text("\n".join(lines + [f"\tat frame{i}" for i in range(300)]) + "\n")
    tail = log_tail(log).splitlines()
    assert tail[:2] == lines[5:7] and tail[2] == "..." and tail[-1] == "\tat frame299" and len(tail) == 11
    log.write_text("\n".join(lines) + "\n")  # the error inside the tail: not repeated
    assert log_tail(log).splitlines() == lines[-8:]
