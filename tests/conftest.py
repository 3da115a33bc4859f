"""Shared fixtures: an isolated data directory, a real embedded broker per test; marker rules.

Markers (``make test-fast`` deselects the first three): ``broker`` — the test talks to a Kafka broker
(any test using the ``platform`` fixture gets it automatically); ``e2e`` — several parts together (every
test under tests/e2e/); ``slow`` — more than about 20 seconds.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support.streams import TEST_KEY, free_port

from ingestion.broker import embedded_broker, ensure_topics
from leap.config import load_settings

E2E = Path(__file__).parent / "e2e"


def pytest_collection_modifyitems(config, items) -> None:
    for item in items:
        if "platform" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.broker)
        if E2E in Path(item.fspath).parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture
def leap_env(tmp_path, monkeypatch):
    """Environment of an isolated embedded platform (no broker started)."""
    monkeypatch.setenv("LEAP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LEAP_EMBEDDED_BROKER_PORT", str(free_port()))
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    monkeypatch.setenv("LEAP_PSEUDONYM_KEY", TEST_KEY)
    monkeypatch.setenv("LEAP_FLUSH_SECONDS", "0.5")
    return load_settings()


@pytest.fixture
def platform(leap_env):
    """A running embedded broker (Tansu) with the topics created; stopped after the test."""
    broker = embedded_broker(leap_env)
    broker.start()
    ensure_topics(leap_env)
    yield leap_env
    broker.stop()
