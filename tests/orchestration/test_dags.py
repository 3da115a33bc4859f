"""DAG integrity: every DAG in dags/ parses through Airflow's DagBag, cheaply, with tags, retries,
docs, failure callbacks and params where they are needed, and the assets chain the DAGs.

Parsing runs in a child process with the local Airflow environment of an isolated data directory
(the Airflow configuration is read once per process), which also lets it check that parsing
imports none of the heavy platform modules.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from leap.orchestration import assets
from leap.orchestration.runner import DAG_ORDER, DAGS_FOLDER, airflow_env

PROBE = r"""
import json, sys, time
t = time.perf_counter()
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(sys.argv[1])
seconds = time.perf_counter() - t
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("dbt", "great_expectations", "duckdb", "pandas",
               "ingestion", "scoring_jobs", "kafka", "expectations", "dbt_project", "simulator", "weights")
               or m.startswith(("leap.orchestration.tasks", "leap.orchestration.exports", "leap.orchestration.flows")))
def uris(cond):
    if cond is None:
        return []
    if hasattr(cond, "uri"):
        return [cond.uri]
    return sorted(u for c in getattr(cond, "objects", []) for u in uris(c))
dags = {}
for dag_id, dag in bag.dags.items():
    dags[dag_id] = {
        "tags": sorted(dag.tags), "doc_md": dag.doc_md or "", "params": sorted(dag.params.keys()),
        "max_active_runs": dag.max_active_runs, "has_dag_callback": dag.on_failure_callback is not None,
        "schedule_assets": uris(getattr(dag.timetable, "asset_condition", None)),
        "timetable": type(dag.timetable).__name__,
        "tasks": {t.task_id: {"retries": t.retries, "retry_delay": t.retry_delay.total_seconds(),
                              "callback": bool(t.on_failure_callback), "pool": t.pool,
                              "outlets": [o.uri for o in t.outlets]} for t in dag.tasks},
    }
print(json.dumps({"errors": {k: str(v) for k, v in bag.import_errors.items()}, "seconds": seconds,
                  "heavy": heavy, "dags": dags}))
"""


@pytest.fixture(scope="module")
def parsed(tmp_path_factory):
    from leap.config import load_settings

    mp = pytest.MonkeyPatch()
    mp.setenv("LEAP_DATA_DIR", str(tmp_path_factory.mktemp("dagbag") / "data"))
    env = airflow_env(load_settings())
    env.pop("LEAP_AIRFLOW_RETRIES")  # the production defaults
    env.pop("LEAP_AIRFLOW_RETRY_DELAY_SECONDS")
    mp.undo()
    proc = subprocess.run([sys.executable, "-c", PROBE, str(DAGS_FOLDER)], env=env, text=True,
                          capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_every_dag_imports_without_errors(parsed):
    assert parsed["errors"] == {}
    assert sorted(parsed["dags"]) == sorted(DAG_ORDER)
    assert len(list(DAGS_FOLDER.glob("*.py"))) == len(DAG_ORDER)  # one DAG per file


def test_parsing_is_cheap_and_imports_nothing_heavy(parsed):
    assert parsed["heavy"] == []
    assert parsed["seconds"] < 10  # Airflow itself is most of it


@pytest.mark.parametrize("dag_id", DAG_ORDER)
def test_dag_has_tags_docs_retries_and_failure_callbacks(parsed, dag_id):
    dag = parsed["dags"][dag_id]
    assert "leap" in dag["tags"] and len(dag["tags"]) >= 2
    assert dag["doc_md"].lstrip().startswith("### LEAP") and len(dag["doc_md"]) > 200
    assert dag["has_dag_callback"]
    for task_id, task in dag["tasks"].items():
        assert task["retries"] == 2 and task["retry_delay"] == 300, task_id
        assert task["callback"], task_id


def test_params_let_any_term_be_rerun_or_backfilled(parsed):
    dags = parsed["dags"]
    assert dags["leap_calibration"]["params"] == ["model", "school_year", "term"]
    assert {"school_year", "term", "calibration_id"} <= set(dags["leap_scoring"]["params"])
    assert "school_year" in dags["leap_growth"]["params"]
    assert {"school_year", "partners"} <= set(dags["leap_partner_refresh"]["params"])


def test_warehouse_writers_share_the_one_slot_pool_and_never_overlap(parsed):
    dags = parsed["dags"]
    writers = {("leap_warehouse_build", "dbt_build"), ("leap_warehouse_build", "publish_marts"),
               ("leap_scoring", "build_scores"), ("leap_scoring", "score_term"), ("leap_growth", "build_growth"),
               ("leap_calibration", "calibrate"), ("leap_calibration", "item_dif")}
    for dag_id, task_id in writers:
        assert dags[dag_id]["tasks"][task_id]["pool"] == assets.WAREHOUSE_POOL, (dag_id, task_id)
    assert all(d["max_active_runs"] == 1 for d in dags.values())


def test_assets_chain_the_dags(parsed):
    dags = parsed["dags"]
    produced = {uri: dag_id for dag_id, d in dags.items() for t in d["tasks"].values() for uri in t["outlets"]}
    assert dags["leap_ingestion_drain"]["timetable"] == "CronTriggerTimetable"
    assert dags["leap_calibration"]["timetable"] == "NullTimetable"  # on demand
    expected = {"leap_validation": [assets.RAW_LAKE], "leap_warehouse_build": [assets.VALIDATED_LAKE],
                "leap_scoring": sorted([assets.WAREHOUSE, assets.CALIBRATION]), "leap_growth": [assets.SCORES],
                "leap_school_reports": sorted([assets.SCORES, assets.GROWTH]),
                "leap_partner_refresh": sorted([assets.WAREHOUSE, assets.SCORES, assets.GROWTH, assets.REPORTS])}
    for dag_id, uris in expected.items():
        assert dags[dag_id]["schedule_assets"] == uris, dag_id
        assert all(uri in produced for uri in uris), dag_id  # every input asset is some DAG's output
    assert dags["leap_partner_refresh"]["timetable"] == "AssetOrTimeSchedule"  # weekly and on the assets
    assert produced[assets.PARTNER_EXPORTS] == "leap_partner_refresh"
    assert produced[assets.REPORTS] == "leap_school_reports"


def test_partner_export_takes_only_suppressed_safe_marts(tmp_path, monkeypatch):
    """Unit check without Airflow: respondent-level and unsuppressed marts never leave the platform."""
    import duckdb

    from leap.config import load_settings
    from leap.orchestration.exports import partner_export

    monkeypatch.setenv("LEAP_DATA_DIR", str(tmp_path / "data"))
    settings = load_settings()
    path = settings.data_dir / "published" / "marts.duckdb"
    path.parent.mkdir(parents=True)
    con = duckdb.connect(str(path))
    con.execute("create table dim_schools as select * from (values ('S1', 'nextgen'), ('S2', 'national')) "
                "t(school_id, sample)")
    con.execute("create table fct_school_growth as select * from (values ('S1', '2024-25', false, 0.4), "
                "('S2', '2024-25', false, 0.1), ('S1', '2023-24', true, null)) t(school_id, school_year, "
                "is_suppressed, growth)")
    con.execute("create table fct_respondent_scores as select 'S1' school_id, '2024-25' school_year, 'r1' "
                "respondent_id, 250.0 scaled_score")
    con.close()
    first = partner_export(settings, "2024-25", "nextgen")
    assert first["rows"] == {"fct_school_growth": 1}
    assert sorted(f["file"] for f in first["files"]) == ["codebook.csv", "fct_school_growth.csv",
                                                          "fct_school_growth.parquet"]
    again = partner_export(settings, "2024-25", "nextgen")
    assert again["version"] == first["version"] and again["files"] == first["files"]
    assert [p.name for p in (settings.data_dir / "exports" / "nextgen" / "2024-25").iterdir()
            if p.is_dir()] == [first["version"]]


def test_the_direct_flows_run_each_dags_tasks_in_its_order(parsed, monkeypatch, tmp_path):
    """`leap demo --direct` (leap.orchestration.flows) runs the task functions of every DAG under the
    DAG's own task ids, in an order the DAG's dependencies allow. The task functions are replaced by
    recorders here: this checks the wiring, the functions themselves run in tests/e2e."""
    import re

    from leap.config import load_settings
    from leap.orchestration import flows, tasks

    calls: list[str] = []
    fake = {"drain": {"landed": 1, "dead_lettered": 0, "duplicates": 0, "files": 1},
            "validate": {"validated_files": 1, "partitions": ["p"], "quarantined": []},
            "report_quarantine": 0, "terms_to_score": [{"school_year": "2024-25", "term": "fall"}],
            "growth_years": ["2024-25"], "export_targets": [{"partner": "nextgen", "school_year": "2024-25"}],
            "report_terms": [{"school_year": "2024-25", "term": "fall"}]}
    for name in ("drain", "validate", "report_quarantine", "dbt_build", "build_scores", "publish_marts", "calibrate",
                 "item_dif",
                 "terms_to_score", "score", "growth_years", "build_growth", "report_terms", "render_reports",
                 "export_targets", "export_partner"):
        monkeypatch.setattr(tasks, name, lambda *a, _n=name, **k: calls.append(_n) or fake.get(_n, {}))
    monkeypatch.setenv("LEAP_DATA_DIR", str(tmp_path))
    conf = {"school_year": "2024-25", "term": "fall"}
    for dag_id, flow in flows.FLOWS.items():
        out = flow(load_settings(), conf)
        ran = {re.sub(r"\[\d+\]$", "", k) for k in out}
        assert ran == set(parsed["dags"][dag_id]["tasks"]), dag_id
    assert calls.index("score") < calls.index("build_scores")  # scores, then the marts on them
    assert calls.index("calibrate") < calls.index("item_dif")
