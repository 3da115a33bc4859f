"""Shared fixtures: one Apache Kafka per test run, an isolated platform per test on it; marker rules.

The broker is the embedded Apache Kafka (``ingestion.embedded.KafkaBroker``) started once per test
run (per xdist worker) in a temporary home; every test that asks for ``platform`` gets its own data
directory, its own topics (a unique ``LEAP_TOPIC_PREFIX``) and its own consumer group on it, so the
tests stay independent without paying a broker start each. ``tansu`` gives a test its own Tansu
broker instead (the few tests that also run on the memory-only broker).

Markers (``make test-fast`` deselects the first three): ``broker`` — the test talks to a Kafka broker
(any test using ``kafka_server``, ``platform`` or ``tansu`` gets it automatically); ``e2e`` — several
parts together (every test under tests/e2e/); ``slow`` — more than about 20 seconds.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support.kafka import isolate, shared_platform, start_kafka, tansu_platform

from leap.config import load_settings

E2E = Path(__file__).parent / "e2e"
_BROKER_FIXTURES = {"platform", "kafka_server", "tansu"}


def pytest_collection_modifyitems(config, items) -> None:
    for item in items:
        if _BROKER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.broker)
        if E2E in Path(item.fspath).parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def kafka_server(tmp_path_factory):
    """The test run's Apache Kafka (KRaft, one node), stopped at the end of the run."""
    broker = start_kafka(tmp_path_factory.mktemp("kafka-session"))
    yield broker
    broker.stop()


@pytest.fixture
def leap_env(tmp_path, monkeypatch):
    """Environment of an isolated embedded platform (no broker started)."""
    isolate(monkeypatch, tmp_path / "data", None)
    return load_settings()


@pytest.fixture
def platform(kafka_server, tmp_path):
    """Settings of an isolated platform on the session's Apache Kafka, topics created, deleted after."""
    with shared_platform(kafka_server, tmp_path / "data") as settings:
        yield settings


@pytest.fixture
def tansu(tmp_path):
    """Settings of an isolated platform on its own Tansu broker (memory-only), stopped after the test."""
    with tansu_platform(tmp_path / "data") as settings:
        yield settings
