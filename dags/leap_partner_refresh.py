"""
### LEAP · partner refresh

Weekly (Monday 06:00 UTC) and whenever **`leap://warehouse/marts`**, **`leap://warehouse/scores`**,
**`leap://warehouse/growth`** or **`leap://reports/schools`** changes: exports, per partner (sample)
and school year, the school results and growth from the published, suppressed-safe marts as CSV and
Parquet, the partner's own schools' reports (HTML, PDF), a `codebook.csv` (every column, item wording,
category label and code) and a `manifest.json` (row counts, sha256 checksums) under
`$LEAP_DATA_DIR/exports/<partner>/<school_year>/<version>/`. The version is a checksum of the
files, so a refresh on unchanged marts rewrites nothing. Emits **`leap://exports/partners`**.

Params: `school_year` (empty: every school year), `partners` (samples to export; empty: every
partner network of `samples.csv`).
"""

from __future__ import annotations

from airflow.sdk import Asset, AssetOrTimeSchedule, CronTriggerTimetable, Param, dag, task

from leap.orchestration import assets
from leap.orchestration.defaults import START, TAGS, default_args, on_failure, settings

SCHEDULE = AssetOrTimeSchedule(
    timetable=CronTriggerTimetable("0 6 * * 1", timezone="UTC"),
    assets=(Asset(assets.WAREHOUSE) | Asset(assets.SCORES) | Asset(assets.GROWTH) | Asset(assets.REPORTS)),
)


@dag(dag_id="leap_partner_refresh", schedule=SCHEDULE, start_date=START, catchup=False, max_active_runs=1,
     default_args=default_args(), on_failure_callback=on_failure, tags=[*TAGS, "exports", "partners"],
     doc_md=__doc__,
     params={"school_year": Param(None, type=["null", "string"], description="empty: every school year"),
             "partners": Param(None, type=["null", "array"], items={"type": "string"},
                               description="partners (samples) to export; empty: every partner network")})
def leap_partner_refresh():
    @task
    def export_targets(**context) -> list[dict]:
        from leap.orchestration.tasks import export_targets

        p = context["params"]
        return export_targets(settings(), p["school_year"], p["partners"])

    @task(map_index_template="{{ task.op_kwargs['target'] }}")
    def export_partner(target: dict) -> dict:
        from leap.orchestration.tasks import export_partner

        return export_partner(settings(), target)

    @task(outlets=[Asset(assets.PARTNER_EXPORTS)])
    def exports_ready(manifests: list[dict]) -> list[dict]:
        return list(manifests)

    exports_ready(export_partner.expand(target=export_targets()))


leap_partner_refresh()
