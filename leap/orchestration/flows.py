"""Every DAG as a plain function: the direct run path (``leap demo --direct``).

Each flow calls the task functions of :mod:`leap.orchestration.tasks` in the order its DAG in ``dags/``
runs them, under the same task ids, and returns ``{task id: result}`` (mapped tasks as
``task[i]``), the shape the Airflow path reads back from the XComs of a DAG run. So both paths feed
one :class:`~leap.orchestration.summary.RunSummary`, and ``tests/orchestration`` checks that each
flow's task ids are its DAG's.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from leap.config import Settings
from leap.orchestration import tasks


def ingestion_drain(settings: Settings, conf: dict) -> dict:
    processes = conf.get("processes")
    out = {"drain": tasks.drain(settings, int(processes) if processes else None)}
    out["landed_new_files"] = out["drain"]["files"] > 0
    if out["landed_new_files"]:
        out["raw_lake_updated"] = out["drain"]
    return out


def validation(settings: Settings, conf: dict) -> dict:
    result = tasks.validate(settings, bool(conf.get("revalidate", False)))
    out = {"validate": result, "report_quarantine": tasks.report_quarantine(settings, result),
           "promoted_new_files": result["validated_files"] > 0}
    if out["promoted_new_files"]:
        out["validated_lake_updated"] = {"validated_files": result["validated_files"],
                                         "partitions": result["partitions"]}
    return out


def warehouse_build(settings: Settings, conf: dict) -> dict:
    force = bool(conf.get("force", False))
    return {"dbt_build": tasks.dbt_build(settings, force), "publish_marts": tasks.publish_marts(settings, force=force)}


def calibration(settings: Settings, conf: dict) -> dict:
    force = bool(conf.get("force", False))
    calibrated = tasks.calibrate(settings, conf["school_year"], conf["term"], conf.get("model") or "pcm", force)
    return {"calibrate": calibrated, "item_dif": tasks.item_dif(settings, calibrated, force)}


def scoring(settings: Settings, conf: dict) -> dict:
    todo = tasks.terms_to_score(settings, conf.get("school_year"), conf.get("term"))
    force = bool(conf.get("force", False))
    out: dict = {"terms_to_score": todo}
    for i, part in enumerate(todo):
        out[f"score_term[{i}]"] = tasks.score(settings, part["school_year"], part["term"], conf.get("calibration_id"),
                                              force)
    out["build_scores"] = tasks.build_scores(settings, force)
    out["publish_marts"] = tasks.publish_marts(settings, report="scores-published", force=force)
    return out


def growth(settings: Settings, conf: dict) -> dict:
    years = tasks.growth_years(settings, conf.get("school_year"))
    force = bool(conf.get("force", False))
    return {"school_years": years, "build_growth": tasks.build_growth(settings, years, force),
            "publish_marts": tasks.publish_marts(settings, report="growth-published", force=force)}


def school_reports(settings: Settings, conf: dict) -> dict:
    targets = tasks.report_terms(settings, conf.get("school_year"), conf.get("term"))
    out: dict = {"report_terms": targets}
    for i, target in enumerate(targets):
        out[f"render_reports[{i}]"] = tasks.render_reports(settings, target, bool(conf.get("pdf", True)))
    out["reports_ready"] = [out[f"render_reports[{i}]"] for i in range(len(targets))]
    return out


def partner_refresh(settings: Settings, conf: dict) -> dict:
    targets = tasks.export_targets(settings, conf.get("school_year"), conf.get("partners"))
    out: dict = {"export_targets": targets}
    for i, target in enumerate(targets):
        out[f"export_partner[{i}]"] = tasks.export_partner(settings, target)
    out["exports_ready"] = [out[f"export_partner[{i}]"] for i in range(len(targets))]
    return out


FLOWS: dict[str, Callable[[Settings, dict], dict]] = {
    "leap_ingestion_drain": ingestion_drain,
    "leap_validation": validation,
    "leap_warehouse_build": warehouse_build,
    "leap_calibration": calibration,
    "leap_scoring": scoring,
    "leap_growth": growth,
    "leap_school_reports": school_reports,
    "leap_partner_refresh": partner_refresh,
}


def run_direct(settings: Settings, plan: list[dict], on_step: Callable[[str], None] | None = None) -> list[dict]:
    """Run the plan's DAGs as flows, in order; the result has the shape of ``runner.run_dags``'s."""
    results = []
    for step in plan:
        if on_step:
            on_step(step["dag_id"])
        t = time.perf_counter()
        xcom = FLOWS[step["dag_id"]](settings, step.get("conf") or {})
        results.append({"dag_id": step["dag_id"], "run_id": "direct", "state": "success",
                        "tasks": dict.fromkeys(xcom, "success"), "xcom": xcom,
                        "seconds": round(time.perf_counter() - t, 2)})
        if on_step:
            on_step(f"{step['dag_id']} done in {results[-1]['seconds']:.1f} s ({len(xcom)} tasks)")
    return results
