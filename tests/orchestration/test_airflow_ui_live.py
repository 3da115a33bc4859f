"""`leap airflow ui --launch` on a port other than 8080, live: the scheduler's tasks reach the
execution API on that port, and their logs are readable through the API the UI uses."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from support.kafka import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.slow]  # airflow standalone: four processes, ~30 s to start


def _wait(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = check()
        except (httpx.HTTPError, KeyError, OSError, ValueError):
            value = None
        if value:
            return value
        time.sleep(2)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@pytest.fixture
def ui(leap_env, tmp_path):
    """Airflow standalone started by the CLI in its own process group (killed as a group after)."""
    port = free_port()
    log = open(tmp_path / "standalone.log", "w")
    # the CLI from the venv without activating it: standalone must still find its `airflow` components
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                                  if Path(p).resolve() != Path(sys.executable).parent.resolve())
    proc = subprocess.Popen([sys.executable, "-m", "leap.cli", "airflow", "ui", "--launch", "--port", str(port)],
                            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait(lambda: httpx.get(f"{base}/api/v2/monitor/health", timeout=5).json()["scheduler"]["status"]
              == "healthy", 240, "the API server and scheduler")
        secrets = leap_env.layout.airflow_home / "simple_auth_manager_passwords.json.generated"
        token = httpx.post(f"{base}/auth/token", json={"username": "admin",
                                                       "password": json.loads(secrets.read_text())["admin"]},
                           timeout=10).json()["access_token"]
        yield httpx.Client(base_url=f"{base}/api/v2", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        log.close()


def test_a_dag_triggered_in_the_ui_runs_its_tasks_and_shows_their_logs(ui):
    _wait(lambda: ui.get("/dags/leap_validation").status_code == 200, 120, "the DAGs to be parsed")
    assert ui.get("/dags/leap_validation").json()["is_paused"]  # DAGs start paused (README: how to unpause)
    assert ui.patch("/dags/leap_validation", json={"is_paused": False}).status_code == 200
    run = ui.post("/dags/leap_validation/dagRuns", json={"logical_date": None}).json()["dag_run_id"]
    state = _wait(lambda: (s := ui.get(f"/dags/leap_validation/dagRuns/{run}").json()["state"])
                  in ("success", "failed") and s, 240, "the DAG run to finish")
    tasks = {t["task_id"]: t["state"] for t in ui.get(f"/dags/leap_validation/dagRuns/{run}/taskInstances")
             .json()["task_instances"]}
    assert state == "success", tasks  # with the execution API on 8080 every task failed (httpx.ConnectError)
    assert tasks["validate"] == "success"
    logs = ui.get(f"/dags/leap_validation/dagRuns/{run}/taskInstances/validate/logs/1",
                  headers={"Accept": "application/json"}).json()["content"]
    events = "\n".join(str(line.get("event", "")) for line in logs)
    assert "validated 0 file(s): 0 row(s) promoted" in events, events
