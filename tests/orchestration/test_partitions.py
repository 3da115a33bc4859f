"""Models incremental by school year x term (dbt_project/macros/partitions.sql): a warehouse build after
a new term's data rebuilds that term's partitions only, and gives what a build from scratch gives. Real
broker, lake, GE and dbt."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta

import duckdb
import pytest

from expectations.runner import run_validation
from ingestion.consumer import run_ingestion
from ingestion.producer import produce
from leap.orchestration import freshness
from leap.orchestration.tasks import dbt_build
from simulator import SimConfig, simulate

pytestmark = [pytest.mark.e2e, pytest.mark.broker, pytest.mark.slow]

PARTITIONED = ["int_respondents", "int_school_item_sums", "int_school_subgroup_sums", "int_school_item_shares",
               "int_classroom_item_sums"]  # the response sums are Python models (dbt_project/pymodels.py)


def _land(settings, records) -> None:
    produce(records, settings, progress=False)
    run_ingestion(settings, "bounded", workers=0, progress=False, standalone=True)
    run_validation(settings)


def _tables(settings) -> dict:
    con = duckdb.connect(str(settings.layout.warehouse), read_only=True)
    try:
        out = {}
        for t in PARTITIONED:  # lists as text, so that rows can be sorted and compared
            cols = [f'"{name}"::varchar as "{name}"' if kind.endswith("[]") else f'"{name}"'
                    for name, kind, *_ in con.execute(f"describe intermediate.{t}").fetchall()]
            out[t] = con.execute(f"select rowid as row_id, {', '.join(cols)} from intermediate.{t}").df()
        return out
    finally:
        con.close()


def _fall(rows):
    return rows[rows["term"] == "fall"].sort_values("row_id").reset_index(drop=True)


def _id(record) -> str:
    return json.loads(record.value)["submission_id"]


def _resubmission(records):
    """A new submission of a student who answered in ``records`` (two hours later, one answer changed), and
    the id of the submission it replaces."""
    first = next(r for r in records if b'"instrument":"student"' in r.value)
    event = json.loads(first.value)
    replaced = event["submission_id"]
    event["submission_id"] = str(uuid.UUID(int=uuid.UUID(replaced).int ^ 1))
    at = datetime.fromisoformat(event["submitted_at"].replace("Z", "+00:00")) + timedelta(hours=2)
    event["submitted_at"] = at.isoformat().replace("+00:00", "Z")
    item = next(iter(event["responses"]))
    event["responses"][item] = 1 if event["responses"][item] != 1 else 2
    return first._replace(value=json.dumps(event).encode()), replaced


def test_a_new_term_rebuilds_its_partitions_only_and_equals_a_build_from_scratch(platform):
    settings = platform
    sim = simulate(SimConfig(seed=9).with_total_schools(10))
    fall = [r for r in sim.records if b'"term":"spring"' not in r.value]
    spring = [r for r in sim.records if b'"term":"spring"' in r.value]
    assert fall and spring
    _land(settings, fall)
    first = dbt_build(settings)
    assert first["partitions"] == "all"  # the first build: from scratch
    year = sorted(freshness.partitions(settings))[0].split("/")[0]
    assert sorted(freshness.partitions(settings)) == [f"{year}/fall"]
    before = _tables(settings)

    _land(settings, spring)
    assert freshness.partition_plan(settings) == [f"{year}/spring"]
    second = dbt_build(settings)
    assert second["partitions"] == [f"{year}/spring"]
    incremental = _tables(settings)
    for table, rows in before.items():  # the fall rows were not rewritten: same rows, same row ids
        assert _fall(incremental[table]).equals(_fall(rows)), table
        assert (incremental[table]["term"] == "spring").any(), table

    # a late fall answer from a respondent who had answered: the fall partition changes, and the
    # respondent's earlier submission is no longer counted, so its response rows must go
    late, replaced = _resubmission(fall)
    _land(settings, [late])
    assert freshness.partition_plan(settings) == [f"{year}/fall"]
    assert dbt_build(settings)["partitions"] == [f"{year}/fall"]
    incremental = _tables(settings)
    counted = set(incremental["int_respondents"]["submission_id"])
    assert replaced not in counted and _id(late) in counted
    # and its answers are out of the sums: each school term's n per item = its counted submissions
    sums = incremental["int_school_item_sums"].groupby(["instrument", "term", "school_id", "item_id"])["n"].sum()
    counts = incremental["int_respondents"].groupby(["instrument", "term", "school_id"]).size()
    assert (sums.droplevel("item_id") == counts.reindex(sums.droplevel("item_id").index)).all()

    assert dbt_build(settings)["skipped"] == "up to date"
    assert dbt_build(settings, force=True)["partitions"] == "all"
    scratch = _tables(settings)
    # the check above can fail: a build from scratch writes the fall rows again, in another order
    assert any(not _fall(scratch[t]).equals(_fall(before[t])) for t in PARTITIONED)
    for table in PARTITIONED:  # the same rows as a build from scratch (sums to the last bits)
        a, b = (t.drop(columns="row_id") for t in (incremental[table], scratch[table]))
        keys = [c for c in a.columns if a[c].dtype.kind not in "fc"]
        a, b = (t.sort_values(keys, na_position="first").reset_index(drop=True) for t in (a, b))
        assert a[keys].equals(b[keys]), table
        for column in (c for c in a.columns if c not in keys):
            na = a[column].isna()
            assert na.equals(b[column].isna()), (table, column)
            assert ((a[column][~na] - b[column][~na]).abs() <= 1e-12 * b[column][~na].abs().clip(lower=1)).all(), \
                (table, column)


def _marts(settings) -> set[str]:
    con = duckdb.connect(str(settings.layout.warehouse), read_only=True)
    try:
        return {r[0] for r in con.execute("select table_name from information_schema.tables "
                                          "where table_schema = 'marts'").fetchall()}
    finally:
        con.close()


def test_the_warehouse_step_leaves_the_score_marts_to_the_scoring_step(platform):
    """dbt_build excludes source:scoring+: the scoring DAG that follows every warehouse build builds those
    marts on the new scores (built in both, they were built twice). Before scoring they do not exist; after
    it they do, with rows, and neither step has anything left to do on a second run."""
    from leap.orchestration import flows

    settings = platform
    _land(settings, simulate(SimConfig(seed=4).with_total_schools(8)).records)
    built = flows.warehouse_build(settings, {})
    assert "--exclude source:scoring+" in built["dbt_build"]["dbt"]
    marts = _marts(settings)
    assert "fct_item_response_distribution" in marts  # the item marts: the warehouse build's
    assert not marts & {"fct_school_scale_scores", "fct_school_growth", "fct_score_level_distribution"}

    year = sorted(freshness.partitions(settings))[0].split("/")[0]
    flows.calibration(settings, {"school_year": year, "term": "fall"})
    scored = flows.scoring(settings, {"school_year": year})
    assert "skipped" not in scored["build_scores"]
    assert {"fct_school_scale_scores", "fct_school_growth", "fct_score_level_distribution"} <= _marts(settings)
    con = duckdb.connect(str(settings.layout.warehouse), read_only=True)
    try:
        assert con.execute("select count(*) from marts.fct_school_scale_scores").fetchone()[0] > 0
    finally:
        con.close()
    assert flows.warehouse_build(settings, {})["dbt_build"]["skipped"] == "up to date"
    assert flows.scoring(settings, {"school_year": year})["build_scores"]["skipped"] == "up to date"
