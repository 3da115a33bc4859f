"""Child process of the runner: run DAGs in order with ``dag.test()`` and write what happened as JSON.

``python -m leap.orchestration.dagrun PLAN.json RESULT.json``: PLAN is a list of
``{"dag_id": ..., "conf": {...}}``. Runs in its own process so the Airflow configuration
(``AIRFLOW_HOME`` and the rest, set by :mod:`leap.orchestration.runner`) is read fresh. Stops at the
first DAG run that does not succeed. Exit code 0 when every run succeeded.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from leap.orchestration.assets import WAREHOUSE_POOL

PROGRESS = "==> "  # lines the runner echoes to the terminal as they come (the rest goes to the log file)


def _ensure_pool() -> None:
    from airflow.models.pool import Pool

    Pool.create_or_update_pool(WAREHOUSE_POOL, slots=1, include_deferred=False,
                               description="one slot: never two dbt runs against the warehouse at once")


def _outcome(dr) -> dict:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    tasks, xcoms = {}, {}
    with create_session() as session:
        for ti in dr.get_task_instances(session=session):
            key = ti.task_id if ti.map_index < 0 else f"{ti.task_id}[{ti.map_index}]"
            tasks[key] = str(ti.state)
        for x in session.scalars(XComModel.get_many(run_id=dr.run_id, dag_ids=dr.dag_id, key="return_value")):
            key = x.task_id if x.map_index < 0 else f"{x.task_id}[{x.map_index}]"
            xcoms[key] = XComModel.deserialize_value(x)
    return {"dag_id": dr.dag_id, "run_id": dr.run_id, "state": str(dr.state), "tasks": tasks, "xcom": xcoms}


def run_plan(plan: list[dict], dags_folder: str) -> list[dict]:
    from airflow.dag_processing.dagbag import DagBag

    from leap.orchestration.tasklogs import register

    register()  # task log files the UI can show (dag.test() writes none)
    bag = DagBag(dags_folder)
    if bag.import_errors:
        raise SystemExit(f"DAG import errors: {bag.import_errors}")
    _ensure_pool()
    results = []
    for step in plan:
        t = time.perf_counter()
        print(f"{PROGRESS}airflow: {step['dag_id']} {json.dumps(step.get('conf') or {})}", file=sys.stderr, flush=True)
        dr = bag.get_dag(step["dag_id"]).test(run_conf=step.get("conf") or {})
        results.append({**_outcome(dr), "seconds": round(time.perf_counter() - t, 2)})
        states = list(results[-1]["tasks"].values())
        print(f"{PROGRESS}airflow: {step['dag_id']} {results[-1]['state']} in {results[-1]['seconds']:.1f} s "
              f"({states.count('success')} of {len(states)} tasks succeeded)", file=sys.stderr, flush=True)
        if results[-1]["state"] != "success":
            break
    return results


def main(argv: list[str]) -> int:
    from airflow.configuration import conf

    plan = json.loads(Path(argv[0]).read_text())
    results = run_plan(plan, conf.get("core", "dags_folder"))
    Path(argv[1]).write_text(json.dumps(results, indent=2, default=str))
    return 0 if len(results) == len(plan) and all(r["state"] == "success" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
