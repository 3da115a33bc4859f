"""
### LEAP · school reports

Runs when **`leap://warehouse/scores`** or **`leap://warehouse/growth`** changes (or on demand): for
every school year and term with school results, renders one self-contained HTML page per school and a
PDF of it, an index per network, one for LEAP and the national / network report, with a
`manifest.json` (files, sha256, schools), under `$LEAP_DATA_DIR/reports/<school_year>/<term>/`.
Emits **`leap://reports/schools`**, which starts *leap_partner_refresh* (each partner receives its
own schools' reports).

Params: `school_year`, `term` (empty: every one with results), `pdf` (false: HTML only).
"""

from __future__ import annotations

from airflow.sdk import Asset, Param, dag, task

from leap.orchestration import assets
from leap.orchestration.defaults import START, TAGS, default_args, on_failure, settings


@dag(dag_id="leap_school_reports", schedule=(Asset(assets.SCORES) | Asset(assets.GROWTH)), start_date=START,
     catchup=False, max_active_runs=1, default_args=default_args(), on_failure_callback=on_failure,
     tags=[*TAGS, "reports"], doc_md=__doc__,
     params={"school_year": Param(None, type=["null", "string"], description="empty: every school year"),
             "term": Param(None, type=["null", "string"], description="empty: every term with results"),
             "pdf": Param(True, type="boolean", description="also print each school report to PDF")})
def leap_school_reports():
    @task
    def report_terms(**context) -> list[dict]:
        from leap.orchestration.tasks import report_terms

        p = context["params"]
        return report_terms(settings(), p["school_year"], p["term"])

    @task(map_index_template="{{ task.op_kwargs['target'] }}")
    def render_reports(target: dict, **context) -> dict:
        from leap.orchestration.tasks import render_reports

        return render_reports(settings(), target, bool(context["params"]["pdf"]))

    @task(outlets=[Asset(assets.REPORTS)])
    def reports_ready(rendered: list[dict]) -> list[dict]:
        return list(rendered)

    reports_ready(render_reports.expand(target=report_terms()))


leap_school_reports()
