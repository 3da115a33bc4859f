"""
### LEAP · reference calibration (on demand)

Calibrates every instrument × scaled component on one reference administration (PCM by default)
and stores it as a new, versioned item bank with its 200–300 scale constants and cut scores, and a
measurement-quality report per scale (Wright map, fit, categories, information, dimensionality,
classification accuracy) in its folder. Then **item_dif**: DIF of every scale's items by gender,
race/ethnicity, parent education, grade band and sample (`fct_item_dif`, `fct_scale_dif`).
Earlier scores keep the calibration id they were made with: a new calibration never silently
changes published results. Emits **`leap://warehouse/calibration`** once DIF is stored, which
starts *leap_scoring*.

Trigger with params `school_year`, `term` (the reference administration) and `model`
(`pcm` | `rsm`), e.g. `airflow dags trigger leap_calibration -c '{"school_year": "2024-25", "term": "fall"}'`.
"""

from __future__ import annotations

from airflow.sdk import Asset, Param, dag, task

from leap.orchestration import assets
from leap.orchestration.defaults import START, TAGS, default_args, on_failure, settings


@dag(dag_id="leap_calibration", schedule=None, start_date=START, catchup=False, max_active_runs=1,
     default_args=default_args(), on_failure_callback=on_failure, tags=[*TAGS, "scoring", "rasch"], doc_md=__doc__,
     params={"school_year": Param("2024-25", type="string", pattern=r"^\d{4}-\d{2}$",
                                  description="school year of the reference administration"),
             "term": Param("fall", type="string", description="reference term (terms.csv)"),
             "model": Param("pcm", type="string", description="Rasch model: pcm or rsm")})
def leap_calibration():
    @task(pool=assets.WAREHOUSE_POOL)
    def calibrate(**context) -> dict:
        from leap.orchestration.tasks import calibrate

        p = context["params"]
        return calibrate(settings(), p["school_year"], p["term"], p["model"])

    @task(pool=assets.WAREHOUSE_POOL, outlets=[Asset(assets.CALIBRATION)])
    def item_dif(calibrated: dict) -> dict:
        from leap.orchestration.tasks import item_dif

        return item_dif(settings(), calibrated)

    item_dif(calibrate())


leap_calibration()
