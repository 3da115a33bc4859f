"""Brokers for tests: one Apache Kafka per test run, fresh topics per test; Tansu for the few tests that
also run on it; a three-node KRaft cluster on loopback for the replication test."""

from __future__ import annotations

import itertools
import os
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest

from ingestion.embedded import KafkaBroker, NodeSpec, TansuBroker
from ingestion.embedded.process import free_port  # noqa: F401  (the tests' one way to pick a port)
from leap.config import load_settings

TEST_KEY = "11" * 32
_COUNTER = itertools.count()


def start_kafka(home: Path, spec: NodeSpec | None = None, **kwargs) -> KafkaBroker:
    broker = KafkaBroker(home, free_port(), spec or NodeSpec(heap="384m"), **kwargs)
    broker.start(timeout=90)
    return broker


def isolate(mp: pytest.MonkeyPatch, data_dir: Path, bootstrap: str | None, key_hex: str = TEST_KEY) -> None:
    """Environment of one test on a shared broker: its own data directory, topics and consumer group.

    ``bootstrap`` None: the embedded broker of ``data_dir`` (its port chosen here).
    """
    tag = f"t{os.getpid()}-{next(_COUNTER)}-{uuid.uuid4().hex[:6]}"
    mp.setenv("LEAP_DATA_DIR", str(data_dir))
    mp.setenv("LEAP_PSEUDONYM_KEY", key_hex)
    mp.setenv("LEAP_FLUSH_SECONDS", "0.5")
    if bootstrap is None:
        mp.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
        mp.delenv("LEAP_TOPIC_PREFIX", raising=False)
        mp.setenv("LEAP_EMBEDDED_BROKER_PORT", str(free_port()))
    else:
        mp.setenv("KAFKA_BOOTSTRAP_SERVERS", bootstrap)
        mp.setenv("LEAP_TOPIC_PREFIX", f"{tag}.")
        mp.setenv("LEAP_CONSUMER_GROUP", f"leap-ingestion-{tag}")


def delete_topics(settings) -> None:
    """Drop a test's topics so the session broker stays small (best effort)."""
    from kafka.admin import KafkaAdminClient

    try:
        admin = KafkaAdminClient(bootstrap_servers=settings.bootstrap_servers, request_timeout_ms=5000)
    except Exception:  # noqa: BLE001 - the broker may be gone when a test killed it
        return
    try:
        admin.delete_topics([settings.topic, settings.dlq_topic], timeout_ms=5000)
    except Exception:  # noqa: BLE001
        pass
    finally:
        admin.close()


@contextmanager
def shared_platform(kafka: KafkaBroker, data_dir: Path, key_hex: str = TEST_KEY):
    """Settings of an isolated platform on the session's Kafka, with its topics created."""
    from ingestion.broker import ensure_topics

    mp = pytest.MonkeyPatch()
    isolate(mp, data_dir, kafka.bootstrap, key_hex)
    settings = load_settings()
    try:
        ensure_topics(settings)
        yield settings
    finally:
        delete_topics(settings)
        mp.undo()


@contextmanager
def tansu_platform(data_dir: Path, key_hex: str = TEST_KEY):
    """Settings of an isolated platform on its own embedded Tansu broker (started and stopped here)."""
    from ingestion.broker import ensure_topics
    from ingestion.embedded import embedded_broker

    mp = pytest.MonkeyPatch()
    isolate(mp, data_dir, None, key_hex)
    mp.setenv("LEAP_EMBEDDED_BROKER", "tansu")
    settings = load_settings()
    broker = embedded_broker(settings)
    assert isinstance(broker, TansuBroker)
    broker.start()
    try:
        ensure_topics(settings)
        yield settings
    finally:
        broker.stop()
        mp.undo()
