"""Defaults shared by every DAG: owner, retries, retry delay, the failure callback, start date.

Cheap to import (no Airflow, no platform modules) so the DAG files parse fast. Retries and their
delay come from the environment so the local runner can fail fast while deployments keep the
production defaults (2 retries, 5 minutes apart).
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime, timedelta

log = logging.getLogger("leap.orchestration")

START = datetime(2024, 1, 1, tzinfo=UTC)
TAGS = ["leap"]


def on_failure(context) -> None:
    """Failure callback: one clear line naming the DAG, run, task, try and the error."""
    ti = context.get("task_instance") or context.get("ti")
    run = context.get("dag_run")
    where = f"dag={getattr(ti, 'dag_id', None) or getattr(run, 'dag_id', '?')} run={getattr(run, 'run_id', '?')}"
    if ti is not None:
        where += f" task={ti.task_id} try={getattr(ti, 'try_number', '?')}"
    exc = context.get("exception")
    what = "TASK" if exc is not None else "DAG RUN"
    why = repr(exc) if exc is not None else context.get("reason") or "a task failed"
    log.error("LEAP %s FAILED %s: %s (logs: the Airflow UI or $AIRFLOW_HOME/logs)", what, where, why)


def default_args() -> dict:
    return {
        "owner": "leap-data",
        "retries": int(os.environ.get("LEAP_AIRFLOW_RETRIES", "2")),
        "retry_delay": timedelta(seconds=float(os.environ.get("LEAP_AIRFLOW_RETRY_DELAY_SECONDS", "300"))),
        "retry_exponential_backoff": False,
        "on_failure_callback": on_failure,
    }


def settings():
    """The platform settings, read from the environment when a task runs (never at parse time)."""
    from leap.config import load_settings

    return load_settings()
