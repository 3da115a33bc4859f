"""The DAGs end to end through Airflow (``dag.test()`` on a local SQLite home) on the real broker.

One small simulated school year (12 schools, fall and spring, three samples) is streamed into the
embedded broker, then every DAG runs in the order its assets chain them: ingestion drain →
validation → warehouse build → calibration → scoring → growth → partner refresh. The tests
assert the marts and the partner exports that come out, that re-running the whole flow for the
same term changes nothing, and that a batch failing validation stops downstream work for that
batch only.
"""

from __future__ import annotations

import hashlib
import json
import random
import subprocess
import sys
import uuid

import duckdb
import pytest
from support.kafka import shared_platform
from test_validation_e2e import bad_batches

from leap.orchestration.runner import airflow_env, default_plan, run_dags

pytestmark = [pytest.mark.e2e, pytest.mark.broker, pytest.mark.slow]

SCHOOL_YEAR = "2024-25"
# The platform core (no scoring): asserted on its own so these tests do not depend on the scoring jobs.
CORE = ("leap_ingestion_drain", "leap_validation", "leap_warehouse_build", "leap_partner_refresh")
SCORING = ("leap_calibration", "leap_scoring", "leap_growth", "leap_partner_refresh")


def _rounded(row: tuple) -> tuple:
    return tuple(round(v, 6) if isinstance(v, float) else v for v in row)


def _mart_digests(settings) -> dict[str, str]:
    """Content digest of every published mart (row order independent; doubles to 6 decimals: two
    builds of the same data differ by summation noise, under 1e-11)."""
    con = duckdb.connect(str(settings.data_dir / "published" / "marts.duckdb"), read_only=True)
    try:
        tables = [r[0] for r in con.execute("select table_name from duckdb_tables() order by 1").fetchall()]
        rows = {t: [_rounded(r) for r in con.execute(f"select * from main.{t} order by all").fetchall()]
                for t in tables}
        return {t: hashlib.sha256(repr(r).encode()).hexdigest() for t, r in rows.items()}
    finally:
        con.close()


def _published_files(settings) -> dict[str, str]:
    root = settings.data_dir / "published"
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _export_files(settings) -> dict[str, str]:
    root = settings.data_dir / "exports"
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _states(result: dict) -> dict[str, str]:
    return result["tasks"]


def _new_school_batch(sim, school: str, n: int) -> list[tuple[bytes, bytes]]:
    """``n`` valid fall teacher submissions of a school the simulation does not have (copied answers)."""
    rng, out = random.Random(32), []
    for record in sim.records:
        if record.kind != "original":  # malformed ones would be dead-lettered
            continue
        event = json.loads(record.value)
        if event["instrument"] == "teacher" and event["term"] == "fall":
            sid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            event.update(submission_id=sid, school_id=school, respondent_id=f"T-{school}-{len(out)}")
            out.append((school.encode(), json.dumps(event).encode()))
            if len(out) == n:
                return out
    raise AssertionError("not enough teacher submissions in the simulation")


def _run(settings, *dag_ids: str) -> dict[str, dict]:
    plan = [s for s in default_plan(SCHOOL_YEAR) if not dag_ids or s["dag_id"] in dag_ids]
    return {r["dag_id"]: r for r in run_dags(settings, plan)}


@pytest.fixture(scope="module")
def flow(tmp_path_factory, kafka_server):
    """A simulated school year through every DAG, then the whole flow again for the same year."""
    from ingestion.producer import produce
    from simulator import SimConfig, simulate

    with shared_platform(kafka_server, tmp_path_factory.mktemp("dags") / "data", "44" * 32) as settings:
        sim = simulate(SimConfig(seed=11, school_year=SCHOOL_YEAR, malformed_share=0.01).with_total_schools(12))
        produce(sim.records, settings, progress=False)
        first = _run(settings, *CORE)
        state1 = (_mart_digests(settings), _export_files(settings))
        again = _run(settings, *CORE)  # the whole flow again, same school year: nothing may change
        state2 = (_mart_digests(settings), _export_files(settings))
        yield {"settings": settings, "sim": sim, "first": first, "again": again, "state1": state1,
               "state2": state2}


def test_a_failed_run_names_the_task_and_its_own_error(flow, capfd):
    """The task's exception, not a dump of task states; progress lines on stderr as the DAG runs."""
    from leap.errors import LeapError

    with pytest.raises(LeapError) as failed:
        run_dags(flow["settings"], [{"dag_id": "leap_calibration", "conf": {"school_year": "1999-00", "term": "fall"}}])
    message = failed.value.message
    assert "Airflow run failed (leap_calibration): task calibrate failed" in message, message
    assert "no respondents in 1999-00 fall" in message, message
    err = capfd.readouterr().err
    assert "==> airflow: leap_calibration {" in err and "==> airflow: leap_calibration failed in" in err, err


# Airflow's own log reader (what the UI's log view calls) on a task's first or latest run.
_READ_TASK_LOG = """
import sys
from airflow.models.taskinstance import TaskInstance
from airflow.utils.log.log_reader import TaskLogReader
from airflow.utils.session import create_session
with create_session() as session:
    ti = (session.query(TaskInstance).filter_by(dag_id=sys.argv[1], task_id=sys.argv[2])
          .order_by(getattr(TaskInstance.start_date, sys.argv[3])()).first())
    stream, _ = TaskLogReader().read_log_chunks(ti, ti.try_number, {})
    for message in stream:
        print(message.event)
"""


def _task_log_in_the_ui(settings, dag_id: str, task_id: str, run: str = "latest") -> str:
    order = {"first": "asc", "latest": "desc"}[run]
    proc = subprocess.run([sys.executable, "-c", _READ_TASK_LOG, dag_id, task_id, order], env=airflow_env(settings),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def test_run_all_task_logs_are_the_ones_the_ui_reads(flow):
    """dag.test() writes no task logs; the listener of leap.orchestration.tasklogs does, where the UI looks."""
    text = _task_log_in_the_ui(flow["settings"], "leap_warehouse_build", "dbt_build", run="first")
    assert "not found" not in text and "No logs available" not in text, text
    assert "dbt build: PASS=" in text and "task succeeded" in text, text
    with pytest.raises(Exception):  # noqa: B017 - the failure itself is asserted in the next lines
        run_dags(flow["settings"], [{"dag_id": "leap_calibration", "conf": {"school_year": "1998-99", "term": "fall"}}])
    failed = _task_log_in_the_ui(flow["settings"], "leap_calibration", "calibrate")
    assert "task failed: LeapError: no respondents in 1998-99 fall" in failed, failed
    assert "Traceback (most recent call last)" in failed, failed


def test_every_dag_run_succeeds_in_asset_order(flow):
    first = flow["first"]
    assert list(first) == list(CORE)
    assert all(r["state"] == "success" for r in first.values()), {d: _states(r) for d, r in first.items()}
    assert _states(first["leap_ingestion_drain"])["raw_lake_updated"] == "success"  # new files: asset emitted
    assert _states(first["leap_validation"])["validated_lake_updated"] == "success"
    assert _states(first["leap_warehouse_build"]) == {"dbt_build": "success", "publish_marts": "success"}


def test_counts_reconcile_and_marts_come_out(flow):
    first, sim, settings = flow["first"], flow["sim"], flow["settings"]
    drained = first["leap_ingestion_drain"]["xcom"]["drain"]
    validated = first["leap_validation"]["xcom"]["validate"]
    assert drained["landed"] == sim.valid_unique and drained["dead_lettered"] > 0
    # every landed row promoted or quarantined (small files of the simulation can fail e.g. the skips check)
    assert validated["validated_rows"] + validated["quarantined_rows"] == drained["landed"]
    assert validated["validated_rows"] > 0.9 * drained["landed"]
    tables = first["leap_warehouse_build"]["xcom"]["publish_marts"]["tables"]
    promoted = str(settings.layout.lake / "validated" / "**" / "*.parquet")
    assert tables["dim_schools"] == duckdb.sql(f"select count(distinct school_id) from read_parquet('{promoted}')"
                                               ).fetchall()[0][0] == 12
    assert tables["fct_item_response_distribution"] > 0 and tables["fct_item_top_box_shares"] > 0
    con = duckdb.connect(str(settings.data_dir / "published" / "marts.duckdb"), read_only=True)
    terms = con.execute("select distinct school_year, term from fct_item_response_distribution order by 2").fetchall()
    con.close()
    assert terms == [(SCHOOL_YEAR, "fall"), (SCHOOL_YEAR, "spring")]


def test_partner_exports_are_suppressed_safe_with_true_manifests(flow):
    settings = flow["settings"]
    exported = flow["first"]["leap_partner_refresh"]["xcom"]["exports_ready"]
    assert sorted(e["partner"] for e in exported) == ["leap_network", "nextgen"]
    con = duckdb.connect(str(settings.data_dir / "published" / "marts.duckdb"), read_only=True)
    for e in exported:
        root = settings.data_dir / "exports" / e["partner"] / SCHOOL_YEAR
        assert (root / "LATEST").read_text().strip() == e["dir"].rsplit("/", 1)[1]
        manifest = json.loads((root / e["dir"].rsplit("/", 1)[1] / "manifest.json").read_text())
        assert {f["format"] for f in manifest["files"]} == {"csv", "parquet"}  # no reports rendered in this flow
        assert any(f["file"] == "codebook.csv" for f in manifest["files"])
        mine = {r[0] for r in con.execute("select school_id from main.dim_schools where sample = ?",
                                          [e["partner"]]).fetchall()}
        for f in manifest["files"]:
            path = root / manifest["version"] / f["file"]
            assert hashlib.sha256(path.read_bytes()).hexdigest() == f["sha256"]
            if f["mart"] == "codebook":
                continue
            reader = "read_csv" if f["format"] == "csv" else "read_parquet"
            rows = duckdb.sql(f"select * from {reader}('{path}')")
            assert len(rows.fetchall()) == f["rows"]
            assert "is_suppressed" in rows.columns and "respondent_id" not in rows.columns
            if "sample" in rows.columns:  # group marts: the partner's sample only
                expect = con.execute(f"select count(*) from main.{f['mart']} where school_year = ? and sample = ?",
                                     [SCHOOL_YEAR, e["partner"]]).fetchone()[0]
                samples = duckdb.sql(f"select distinct sample from {reader}('{path}')").fetchall()
                assert samples == [(e["partner"],)]
            else:  # school marts: the partner's schools only
                expect = con.execute(f"select count(*) from main.{f['mart']} where school_year = ? and school_id in "
                                     "(select school_id from main.dim_schools where sample = ?)",
                                     [SCHOOL_YEAR, e["partner"]]).fetchone()[0]
                schools = {r[0] for r in duckdb.sql(f"select distinct school_id from {reader}('{path}')").fetchall()}
                assert schools <= mine
            assert f["rows"] == expect
        dist = root / manifest["version"] / "fct_item_response_distribution.parquet"
        leaks = duckdb.sql(f"select count(*) from read_parquet('{dist}') where is_suppressed "
                           "and weighted_pct is not null").fetchall()[0][0]
        assert leaks == 0
    con.close()


def test_rerunning_the_whole_flow_changes_nothing(flow):
    again = flow["again"]
    assert all(r["state"] == "success" for r in again.values())
    assert again["leap_ingestion_drain"]["xcom"]["drain"]["landed"] == 0
    assert _states(again["leap_ingestion_drain"])["raw_lake_updated"] == "skipped"  # no new files: no asset event
    assert again["leap_validation"]["xcom"]["validate"]["validated_files"] == 0
    assert _states(again["leap_validation"])["validated_lake_updated"] == "skipped"
    for task in ("dbt_build", "publish_marts"):  # nothing the warehouse reads changed: no dbt, no publish
        assert again["leap_warehouse_build"]["xcom"][task]["skipped"] == "up to date", task
    assert again["leap_warehouse_build"]["xcom"]["publish_marts"]["tables"] == \
        flow["first"]["leap_warehouse_build"]["xcom"]["publish_marts"]["tables"]  # the last result, as XCom
    marts1, files1 = flow["state1"]
    marts2, files2 = flow["state2"]
    assert marts2 == marts1  # same mart contents
    assert files2 == files1  # same export files, versions and checksums; no new version directory


def test_scoring_and_growth_come_out_and_rerun_changes_nothing(flow):
    settings = flow["settings"]
    first = _run(settings, *SCORING)
    for dag_id in SCORING:
        assert all(s == "success" for s in _states(first[dag_id]).values()), (dag_id, _states(first[dag_id]))
    assert [t for t in _states(first["leap_scoring"]) if t.startswith("score_term")] == \
        ["score_term[0]", "score_term[1]"]  # fall and spring, one mapped task each
    from leap.orchestration.summary import RunSummary, school_counts

    assert school_counts(settings, RunSummary(school_year=SCHOOL_YEAR)).schools_scored == 12
    dif = first["leap_calibration"]["xcom"]["item_dif"]  # DIF of every scale x grouping, then the asset
    assert dif["scale_rows"] == 30 and dif["report"].endswith("index.html")
    from leap.orchestration.summary import summarize

    outputs = summarize(settings, list(first.values()), RunSummary(school_year=SCHOOL_YEAR)).outputs
    assert outputs["calibration report"] == dif["report"]  # the run summary points at it
    before = (_mart_digests(settings), _export_files(settings))
    published = _published_files(settings)
    again = _run(settings, *SCORING)
    assert all(r["state"] == "success" for r in again.values())
    skipped = {(d, t) for d, r in again.items() for t, x in r["xcom"].items()
               if isinstance(x, dict) and x.get("skipped") == "up to date"}
    assert {("leap_calibration", "calibrate"), ("leap_scoring", "score_term[0]"), ("leap_scoring", "score_term[1]"),
            ("leap_scoring", "build_scores"), ("leap_scoring", "publish_marts"), ("leap_growth", "build_growth"),
            ("leap_growth", "publish_marts")} <= skipped
    assert again["leap_calibration"]["xcom"]["item_dif"]["skipped"] == "already analysed"
    assert (_mart_digests(settings), _export_files(settings)) == before
    assert _published_files(settings) == published  # byte for byte: nothing was rewritten


def test_failing_validation_stops_downstream_for_that_batch_only(flow, monkeypatch):
    """A batch that fails validation is quarantined and reported; the DAG run succeeds; only the
    promoted batch reaches the warehouse, and a run that promotes nothing triggers nothing."""
    settings = flow["settings"]
    from ingestion.producer import produce

    batches, _ids, _reasons = bad_batches(seed=31)
    clock_wrong = batches[0]  # SCH-0900: fall submissions dated in January
    produce(clock_wrong, settings, progress=False)
    only_bad = _run(settings, "leap_ingestion_drain", "leap_validation")
    val = only_bad["leap_validation"]
    assert val["state"] == "success"
    assert [q["checks"] for q in val["xcom"]["validate"]["quarantined"]] == [["window.submitted_at"]]
    assert val["xcom"]["report_quarantine"] == 1
    assert _states(val)["promoted_new_files"] == "success"
    assert _states(val)["validated_lake_updated"] == "skipped"  # no validated-lake event: no dbt build

    good = _new_school_batch(flow["sim"], "SCH-0950", 30)
    produce(clock_wrong + good, settings, progress=False)  # the bad batch resent beside a good one
    mixed = _run(settings, "leap_ingestion_drain", "leap_validation", "leap_warehouse_build")
    assert all(r["state"] == "success" for r in mixed.values())
    assert "skipped" not in mixed["leap_warehouse_build"]["xcom"]["dbt_build"]  # new validated data: a build
    assert mixed["leap_validation"]["xcom"]["validate"]["validated_rows"] == 30
    assert _states(mixed["leap_validation"])["validated_lake_updated"] == "success"
    con = duckdb.connect(str(settings.data_dir / "published" / "marts.duckdb"), read_only=True)
    schools = {r[0] for r in con.execute("select school_id from dim_schools").fetchall()}
    con.close()
    assert "SCH-0950" in schools and "SCH-0900" not in schools and len(schools) == 12 + 1
