"""
### LEAP · validation

Runs when **`leap://lake/raw`** changes (or on demand): every raw file not validated yet is run
through its instrument's Great Expectations suite once, then promoted to the validated zone or
quarantined with a report beside it. A quarantined batch is *reported, not fatal*: it never
reaches the validated zone, so the dbt build and everything after it run on what was promoted.
A run that promotes nothing new (a bad batch alone, or a re-run) stops here: the
**`leap://lake/validated`** asset that starts *leap_warehouse_build* is emitted only for new
promoted files.

Params: `revalidate` (re-run files validated under an older suite version).
"""

from __future__ import annotations

from airflow.sdk import Asset, Param, dag, task

from leap.orchestration import assets
from leap.orchestration.defaults import START, TAGS, default_args, on_failure, settings


@dag(dag_id="leap_validation", schedule=[Asset(assets.RAW_LAKE)], start_date=START, catchup=False,
     max_active_runs=1, default_args=default_args(), on_failure_callback=on_failure,
     tags=[*TAGS, "validation", "great-expectations"], doc_md=__doc__,
     params={"revalidate": Param(False, type="boolean", description="re-validate files of older suites")})
def leap_validation():
    @task
    def validate(**context) -> dict:
        from leap.orchestration.tasks import validate

        return validate(settings(), bool(context["params"]["revalidate"]))

    @task
    def report_quarantine(result: dict) -> int:
        from leap.orchestration.tasks import report_quarantine

        return report_quarantine(settings(), result)

    @task.short_circuit
    def promoted_new_files(result: dict) -> bool:
        return result["validated_files"] > 0

    @task(outlets=[Asset(assets.VALIDATED_LAKE)])
    def validated_lake_updated(result: dict) -> dict:
        return {"validated_files": result["validated_files"], "partitions": result["partitions"]}

    result = validate()
    report_quarantine(result)
    promoted_new_files(result) >> validated_lake_updated(result)


leap_validation()
