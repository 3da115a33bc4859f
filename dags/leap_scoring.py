"""
### LEAP · term scoring

Runs when **`leap://warehouse/marts`** or **`leap://warehouse/calibration`** changes (or on
demand): scores every respondent of each term against the anchored item bank (WLE, SE, scaled
score, personalization level), one mapped task per (school year, term), then rebuilds the dbt
marts on the scores and republishes them. Emits **`leap://warehouse/scores`**, which starts
*leap_growth* and *leap_partner_refresh*.

Params: `school_year` and `term` (empty: every validated term; set both to re-run or backfill
one term) and `calibration_id` (empty: the current calibration). Each term's scores are
rewritten as a whole, so re-running a term changes nothing.
"""

from __future__ import annotations

from airflow.sdk import Asset, Param, dag, task

from leap.orchestration import assets
from leap.orchestration.defaults import START, TAGS, default_args, on_failure, settings


@dag(dag_id="leap_scoring", schedule=(Asset(assets.WAREHOUSE) | Asset(assets.CALIBRATION)), start_date=START,
     catchup=False, max_active_runs=1, default_args=default_args(), on_failure_callback=on_failure,
     tags=[*TAGS, "scoring", "rasch"], doc_md=__doc__,
     params={"school_year": Param(None, type=["null", "string"], description="empty: every school year"),
             "term": Param(None, type=["null", "string"], description="empty: every term"),
             "calibration_id": Param(None, type=["null", "string"], description="empty: current calibration")})
def leap_scoring():
    @task
    def terms_to_score(**context) -> list[dict]:
        from leap.orchestration.tasks import terms_to_score

        p = context["params"]
        return terms_to_score(settings(), p["school_year"], p["term"])

    @task(pool=assets.WAREHOUSE_POOL, map_index_template="{{ task.op_kwargs['partition'] }}")
    def score_term(partition: dict, **context) -> dict:
        from leap.orchestration.tasks import score

        return score(settings(), partition["school_year"], partition["term"], context["params"]["calibration_id"])

    @task(pool=assets.WAREHOUSE_POOL)
    def build_scores() -> dict:
        """dbt on what the scores feed (the models downstream of the scoring tables), not the whole warehouse."""
        from leap.orchestration.tasks import build_scores

        return build_scores(settings())

    @task(pool=assets.WAREHOUSE_POOL, outlets=[Asset(assets.SCORES)])
    def publish_marts() -> dict:
        from leap.orchestration.tasks import publish_marts

        return publish_marts(settings(), report="scores-published")

    score_term.expand(partition=terms_to_score()) >> build_scores() >> publish_marts()


leap_scoring()
