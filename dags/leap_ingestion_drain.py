"""
### LEAP · ingestion drain

Bounded drain of the submissions topic into the raw Parquet lake, every 30 minutes, for
deployments that do not run the ingestion service (`leap ingest --service`). Safe next to the
service and on re-runs: offsets are committed only after files are durable and every
`submission_id` is stored once, so a drained topic lands nothing.

Emits **`leap://lake/raw`** when new files landed, which starts *leap_validation*.
Params: `processes` (parallel standalone drains; empty: `LEAP_WORKERS`, the machine's cores).
"""

from __future__ import annotations

from airflow.sdk import Asset, Param, dag, task

from leap.orchestration import assets
from leap.orchestration.defaults import START, TAGS, default_args, on_failure, settings


@dag(dag_id="leap_ingestion_drain", schedule="*/30 * * * *", start_date=START, catchup=False, max_active_runs=1,
     default_args=default_args(), on_failure_callback=on_failure, tags=[*TAGS, "ingestion"], doc_md=__doc__,
     params={"processes": Param(None, type=["null", "integer"], minimum=1, maximum=64,
                                description="parallel drains (empty: LEAP_WORKERS, the cores)")})
def leap_ingestion_drain():
    @task
    def drain(**context) -> dict:
        from leap.orchestration.tasks import drain

        processes = context["params"]["processes"]
        return drain(settings(), int(processes) if processes else None)

    @task.short_circuit
    def landed_new_files(result: dict) -> bool:
        return result["files"] > 0

    @task(outlets=[Asset(assets.RAW_LAKE)])
    def raw_lake_updated(result: dict) -> dict:
        return result

    result = drain()
    landed_new_files(result) >> raw_lake_updated(result)


leap_ingestion_drain()
