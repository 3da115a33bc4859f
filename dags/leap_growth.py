"""
### LEAP · fall-to-spring growth

Runs when **`leap://warehouse/scores`** changes (or on demand), for every school year whose fall
and spring administrations are both in the warehouse: the dbt growth model (`fct_school_growth`:
school growth per instrument × scale, matched and unmatched designs, SE, 95% significance, level
transitions) is built with its tests and the marts are republished. Emits **`leap://warehouse/growth`**, which starts
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
        from leap.orchestration.tasks import growth_years

        return growth_years(settings(), context["params"]["school_year"])

    @task(pool=assets.WAREHOUSE_POOL)
    def build_growth(years: list[str]) -> dict:
        from leap.orchestration.tasks import build_growth

        return build_growth(settings(), years)

    @task(pool=assets.WAREHOUSE_POOL, outlets=[Asset(assets.GROWTH)])
    def publish_marts() -> dict:
        from leap.orchestration.tasks import publish_marts

        return publish_marts(settings(), report="growth-published")

    build_growth(school_years()) >> publish_marts()


leap_growth()
