"""Bad input from the command line ends with a clear message and a non-zero exit, never a bare traceback."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from support.kafka import free_port


def run_leap(*args, env=None, timeout=60):
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "leap.cli", *args], capture_output=True, text=True,
                          env=full_env, timeout=timeout)


def assert_clear_failure(proc, *phrases, code=None):
    assert proc.returncode != 0
    if code is not None:
        assert proc.returncode == code, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    assert "error:" in proc.stderr
    for phrase in phrases:
        assert phrase in proc.stderr, proc.stderr


@pytest.fixture
def env(tmp_path):
    return {"LEAP_DATA_DIR": str(tmp_path / "data"), "LEAP_EMBEDDED_BROKER_PORT": str(free_port()),
            "LEAP_PSEUDONYM_KEY": "22" * 32, "KAFKA_BOOTSTRAP_SERVERS": ""}


@pytest.mark.slow  # waits out the broker timeout (5 s)
def test_ingest_with_broker_down(env):
    proc = run_leap("ingest", "--bounded", env=env)
    assert_clear_failure(proc, "no embedded broker answers", "leap broker start", code=3)


@pytest.mark.slow  # waits out the broker timeout (5 s)
def test_ingest_with_external_kafka_down(env):
    proc = run_leap("ingest", "--bounded", env={**env, "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}"})
    assert_clear_failure(proc, "no Kafka answers", "KAFKA_BOOTSTRAP_SERVERS", code=3)


@pytest.mark.parametrize("bootstrap", ["localhost:notaport", "kafka1", "host:0", "a:1,,b:2"])
def test_malformed_bootstrap_string_is_named(env, bootstrap):
    proc = run_leap("ingest", "--bounded", env={**env, "KAFKA_BOOTSTRAP_SERVERS": bootstrap})
    assert_clear_failure(proc, "is not host:port", "host:port pairs separated by commas")


@pytest.mark.slow  # waits out the broker timeout (5 s)
def test_simulate_to_kafka_with_broker_down(env):
    proc = run_leap("simulate", "--schools", "2", "--to-kafka", env=env)
    assert_clear_failure(proc, "answers", code=3)


def test_unwritable_lake_path(platform, tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the data directory should be")
    env = {"LEAP_DATA_DIR": str(blocker / "data"), "KAFKA_BOOTSTRAP_SERVERS": platform.bootstrap_servers,
           "LEAP_PSEUDONYM_KEY": "22" * 32}
    proc = run_leap("ingest", "--bounded", env=env)
    assert_clear_failure(proc, "not writable", "LEAP_DATA_DIR")


def test_unwritable_key_location_without_key(env, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    proc = run_leap("ingest", "--bounded", env={**env, "LEAP_DATA_DIR": str(blocker / "data"),
                                                "LEAP_PSEUDONYM_KEY": ""})
    assert_clear_failure(proc, "pseudonymization key")


@pytest.mark.parametrize(("var", "value", "phrase"), [
    ("LEAP_FLUSH_RECORDS", "many", "LEAP_FLUSH_RECORDS"),
    ("LEAP_PSEUDONYM_KEY", "not-hex", "LEAP_PSEUDONYM_KEY"),
    ("LEAP_INSTRUMENT_DIR", "/nonexistent/instrument", "instrument definition file missing"),
])
def test_bad_configuration(env, var, value, phrase):
    proc = run_leap("ingest", "--bounded", env={**env, var: value})
    assert_clear_failure(proc, phrase)


def test_broker_start_refuses_external_kafka(env):
    proc = run_leap("broker", "start", env={**env, "KAFKA_BOOTSTRAP_SERVERS": "kafka:9092"})
    assert_clear_failure(proc, "KAFKA_BOOTSTRAP_SERVERS is set")


def test_status_without_broker_still_reports_the_lake(env):
    proc = run_leap("status", env=env)
    assert proc.returncode == 0 and "DOWN" in proc.stdout
