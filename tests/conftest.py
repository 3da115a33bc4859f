"""Shared fixtures: a real embedded broker per test, an isolated data directory, event streams."""

from __future__ import annotations

import pytest
from streams import TEST_KEY, free_port

from leap.broker import embedded_broker, ensure_topics
from leap.config import load_settings


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
