"""
### LEAP · fall-to-spring growth

Runs when **`leap://warehouse/scores`** changes (or on demand), for every school year whose fall
and spring administrations are both in the warehouse: school growth per instrument × scale
(matched and unmatched designs, SE, 95% significance, level transitions), then the dbt marts
on it are rebuilt and republished. Emits **`leap://warehouse/growth`**, which starts
*leap_partner_refresh*. A school year without spring scores yet is skipped, not failed.

Params: `school_year` (empty: every school year with fall and spring).
"""

from __future__ import annotations

from airflow.sdk import Asset, Param, dag, task

from leap.orchestration import assets
from leap.orchestration.defaults import START, TAGS, default_args, on_failure, settings


@dag(dag_id="leap_growth", schedule=[Asset(assets.SCORES)], start_date=START, catchup=False, max_active_runs=1,
     default_args=default_args(), on_failure_callback=on_failure, tags=[*TAGS, "scoring", "growth"],
     doc_md=__doc__,
     params={"school_year": Param(None, type=["null", "string"], description="empty: every school year")})
def leap_growth():
    @task
    def school_years(**context) -> list[str]:
        from airflow.sdk.exceptions import AirflowSkipException

        from leap.orchestration.tasks import ScoringUnavailable, growth_years, scoring_jobs

        try:
            scoring_jobs()
        except ScoringUnavailable as exc:
            raise AirflowSkipException(exc.message) from None
        return growth_years(settings(), context["params"]["school_year"])

    @task(pool=assets.WAREHOUSE_POOL)
    def school_growth(school_year: str) -> dict:
        from leap.orchestration.tasks import growth

        return growth(settings(), school_year)

    @task(pool=assets.WAREHOUSE_POOL)
    def dbt_build() -> dict:
        from leap.orchestration.tasks import dbt_build

        return dbt_build(settings())

    @task(pool=assets.WAREHOUSE_POOL, outlets=[Asset(assets.GROWTH)])
    def publish_marts() -> dict:
        from leap.orchestration.tasks import publish_marts

        return publish_marts(settings(), report="growth-published")

    school_growth.expand(school_year=school_years()) >> dbt_build() >> publish_marts()


leap_growth()
