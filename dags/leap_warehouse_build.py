"""
### LEAP · warehouse build

Runs when **`leap://lake/validated`** changes (or on demand): `dbt build` of the staging,
intermediate and mart models on the validated zone (tests included), then publishes the marts
for BI (Parquet + a read-only DuckDB snapshot, swapped atomically). Emits
**`leap://warehouse/marts`**, which starts *leap_scoring* and *leap_partner_refresh*. What the
scores feed (`--exclude source:scoring+`: the score and growth marts) is left to *leap_scoring*,
which scores the terms whose rows changed and builds them.

Never two dbt runs at once: `max_active_runs=1`, the one-slot `leap_warehouse` pool shared by
every task that writes the warehouse, and the warehouse lock (`leap.locks.warehouse_lock`).
"""

from __future__ import annotations

from airflow.sdk import Asset, dag, task

from leap.orchestration import assets
from leap.orchestration.defaults import START, TAGS, default_args, on_failure, settings


@dag(dag_id="leap_warehouse_build", schedule=[Asset(assets.VALIDATED_LAKE)], start_date=START, catchup=False,
     max_active_runs=1, default_args=default_args(), on_failure_callback=on_failure,
     tags=[*TAGS, "warehouse", "dbt"], doc_md=__doc__)
def leap_warehouse_build():
    @task(pool=assets.WAREHOUSE_POOL)
    def dbt_build() -> dict:
        from leap.orchestration.tasks import dbt_build

        return dbt_build(settings())

    @task(pool=assets.WAREHOUSE_POOL, outlets=[Asset(assets.WAREHOUSE)])
    def publish_marts() -> dict:
        from leap.orchestration.tasks import publish_marts

        return publish_marts(settings())

    dbt_build() >> publish_marts()


leap_warehouse_build()
