"""The local Airflow home's environment: one for run-all and the UI, on loopback at any port."""

from __future__ import annotations

import os
import subprocess

import pytest
from support.kafka import free_port

from leap.cli import main
from leap.orchestration.runner import airflow_env, airflow_exe


def test_the_ui_command_carries_the_port_to_the_tasks(leap_env, capsys, monkeypatch):
    monkeypatch.setattr("leap.orchestration.runner.init_airflow", lambda settings: None)
    port = free_port()
    assert main(["airflow", "ui", "--port", str(port)]) == 0
    out = capsys.readouterr().out
    assert f"AIRFLOW__CORE__EXECUTION_API_SERVER_URL=http://127.0.0.1:{port}/execution/" in out
    assert f"AIRFLOW__API__PORT={port}" in out and "AIRFLOW__API__HOST=127.0.0.1" in out
    assert f"AIRFLOW__CORE__PARALLELISM={os.cpu_count()}" in out
    assert "DAGs start paused" in out


def test_run_all_and_the_ui_share_one_environment(leap_env):
    """Same retries and settings: the DAGs serialize the same, so their version does not churn."""
    ui, run_all = airflow_env(leap_env, port=8080), airflow_env(leap_env)
    assert ui == run_all and ui["LEAP_AIRFLOW_RETRIES"] == "0"


@pytest.mark.slow  # starts the airflow CLI (~5 s)
def test_airflow_reads_the_execution_api_url(leap_env):
    port = free_port()
    proc = subprocess.run([airflow_exe(), "config", "get-value", "core", "execution_api_server_url"],
                          env=airflow_env(leap_env, port=port), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == f"http://127.0.0.1:{port}/execution/"
