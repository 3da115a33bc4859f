"""The scoring tables as lake files (scoring_jobs.tables): partitions replaced whole and atomically, typed
by the one table definition, readable before any job wrote them, by the jobs and by dbt alike."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pyarrow.parquet as pq
import pytest

from scoring_jobs import tables

FALL = {"school_year": "2024-25", "term": "fall"}
SPRING = {"school_year": "2024-25", "term": "spring"}


def _scores(term: str, thetas: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"school_year": "2024-25", "term": term, "component": "LF", "theta": thetas,
                         "respondent_key": [f"r{i}" for i in range(len(thetas))]})


@pytest.fixture
def bank(leap_env):
    con = tables.connect(leap_env)
    yield leap_env, con
    con.close()


def test_every_table_reads_empty_with_its_columns_and_types_before_any_job_wrote_it(bank):
    _, con = bank
    for table in tables.TABLES:
        described = con.execute(f"describe scoring.{table}").fetchall()
        assert [(name, kind.lower()) for name, kind, *_ in described] == [
            (name, {"varchar": "varchar", "bigint": "bigint", "integer": "integer", "double": "double",
                    "boolean": "boolean", "timestamptz": "timestamp with time zone"}[kind])
            for name, kind in tables.columns(table)], table
        assert con.execute(f"select count(*) from scoring.{table}").fetchone()[0] == 0


def test_a_partition_is_replaced_whole_and_the_others_are_kept(bank):
    settings, con = bank
    tables.write_frame(con, settings, "respondent_scores", FALL, _scores("fall", [0.1, 0.2, 0.3]))
    tables.write_frame(con, settings, "respondent_scores", SPRING, _scores("spring", [1.0]))
    tables.write_frame(con, settings, "respondent_scores", FALL, _scores("fall", [0.5]))  # scored again
    rows = con.execute("select term, theta from scoring.respondent_scores order by term").fetchall()
    assert rows == [("fall", 0.5), ("spring", 1.0)]
    tables.write_frame(con, settings, "respondent_scores", SPRING, pd.DataFrame())  # a term with no one left
    assert con.execute("select count(*) from scoring.respondent_scores where term = 'spring'").fetchone()[0] == 0
    path = tables.partition_path(settings, "respondent_scores", FALL)
    assert path.relative_to(settings.layout.scoring_tables).as_posix() == \
        "respondent_scores/school_year=2024-25/term=fall/part.parquet"


def test_rows_are_cast_to_the_table_types_and_missing_columns_are_null(bank):
    settings, con = bank
    rows = pd.DataFrame({"calibration_id": ["c/1"], "n_persons": [12.0], "converged": [1],
                         "created_at": [datetime(2025, 1, 2, tzinfo=UTC)]})
    path = tables.write_frame(con, settings, "item_bank_calibrations", {"calibration_id": "c/1"}, rows)
    assert path.parent.name == "calibration_id=c%2F1"  # a value is one directory level, whatever it holds
    assert pq.read_schema(path).names == tables.column_names("item_bank_calibrations")
    got = con.execute("select n_persons, converged, reliability, typeof(n_persons) "
                      "from scoring.item_bank_calibrations").fetchone()
    assert got == (12, True, None, "BIGINT")


def test_a_failed_write_keeps_the_old_partition_and_leaves_no_file_behind(bank):
    settings, con = bank
    path = tables.write_frame(con, settings, "respondent_scores", FALL, _scores("fall", [0.1]))
    before = path.read_bytes()
    with pytest.raises(Exception, match="(?i)conversion|could not convert"):
        tables.write_frame(con, settings, "respondent_scores", FALL,
                           _scores("fall", [0.2]).assign(theta="not a number"))
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["part.parquet"]


def test_a_file_written_before_a_column_existed_reads_it_as_null(bank):
    settings, con = bank
    path = tables.partition_path(settings, "item_drift", FALL)
    path.parent.mkdir(parents=True)
    con.execute(f"copy (select 'fall' as term, 'i1' as item_id, 0.4 as displacement) to '{path}' (format parquet)")
    assert con.execute("select item_id, displacement, displacement_z from scoring.item_drift").fetchall() == [
        ("i1", 0.4, None)]


def test_a_schema_file_of_an_older_table_definition_is_rewritten(leap_env, monkeypatch):
    tables.ensure_scoring_tables(leap_env)
    schema = leap_env.layout.scoring_tables / "item_drift" / tables.SCHEMA_FILE
    monkeypatch.setitem(tables.COLUMNS, "item_drift", tables.COLUMNS["item_drift"] + ", new_measure double")
    tables.ensure_scoring_tables(leap_env)
    assert pq.read_schema(schema).names[-1] == "new_measure"


def test_the_scoring_tables_of_an_older_warehouse_move_into_the_lake_once(leap_env):
    """A warehouse made while the jobs wrote schema ``scoring`` keeps its item banks, reporting scales and
    scores: the first use of the lake zone moves them and drops
    the warehouse's copies."""
    path = leap_env.layout.warehouse
    path.parent.mkdir(parents=True)
    con = leap_env.duckdb(path)
    con.execute("create schema scoring")
    for table, cols in tables.COLUMNS.items():
        con.execute(f"create table scoring.{table} ({cols})")
    con.execute("insert into scoring.respondent_scores (school_year, term, theta) values "
                "('2024-25', 'fall', 0.1), ('2024-25', 'fall', 0.2), ('2024-25', 'spring', 0.3)")
    con.execute("insert into scoring.reporting_scales (instrument, component, scale_slope) values "
                "('student', 'LF', 9.5), ('student', 'LD', 10.5)")
    con.close()

    tables.ensure_scoring_tables(leap_env)

    bank = tables.connect(leap_env)
    try:
        assert bank.execute("select term, theta from scoring.respondent_scores order by theta").fetchall() == [
            ("fall", 0.1), ("fall", 0.2), ("spring", 0.3)]
        assert bank.execute("select component, scale_slope from scoring.reporting_scales order by all").fetchall() == [
            ("LD", 10.5), ("LF", 9.5)]
    finally:
        bank.close()
    assert tables.partition_path(leap_env, "reporting_scales", {"instrument": "student", "component": "LF"}).exists()
    con = leap_env.duckdb(path, read_only=True)
    try:
        assert con.execute("select count(*) from duckdb_tables() where schema_name = 'scoring'").fetchone()[0] == 0
    finally:
        con.close()
    assert tables.migrate_warehouse_tables(leap_env) == {}  # nothing left to move
