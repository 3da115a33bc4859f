"""Each kind of check fails when it should: one realistic defect applied to the known-good teacher file.

The good file (30 submissions of three schools, fall 2024) passes; every case below changes one
thing and must fail exactly the checks it names, so a check that silently stopped working (or one
that fires on good data) shows up here.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from support.expectations import fixture_table

SUITE = "raw_teacher_submissions"
PARTITION = ("teacher", "2024-25", "fall")


def _rows(table: pa.Table) -> list[dict]:
    return table.to_pylist()


def _table(rows: list[dict], schema: pa.Schema) -> pa.Table:
    """Rows back to a table; every field nullable, as a writer other than ingestion may leave them."""
    return pa.Table.from_pylist(rows, schema=pa.schema([f.with_nullable(True) for f in schema]))


def edit(**changes):
    """A defect setting columns of the first row: edit(term="summer")."""
    def apply(t: pa.Table) -> pa.Table:
        rows = _rows(t)
        rows[0].update(changes)
        return _table(rows, t.schema)
    return apply


def null_items(n_rows: int):
    def apply(t: pa.Table) -> pa.Table:
        items = [c for c in t.column_names if c.startswith("t_")]
        rows = _rows(t)
        for r in rows[:n_rows]:
            r.update(dict.fromkeys(items))
        return _table(rows, t.schema)
    return apply


def skip_item(item: str, share: float):
    def apply(t: pa.Table) -> pa.Table:
        rows = _rows(t)
        for r in rows[: round(len(rows) * share)]:
            r[item] = None
        return _table(rows, t.schema)
    return apply


def duplicate_id(t: pa.Table) -> pa.Table:
    rows = _rows(t)
    rows[1]["submission_id"] = rows[0]["submission_id"]
    return _table(rows, t.schema)


def flood(t: pa.Table) -> pa.Table:
    """One school sends 9× its plausible volume (new ids each time)."""
    rows = []
    for copy in range(9):
        for r in _rows(t):
            rows.append({**r, "school_id": "SCH-9999", "submission_id": str(uuid.UUID(int=len(rows) + 1, version=4)),
                         "kafka_offset": r["kafka_offset"] + copy * 1000})
    return _table(rows, t.schema)


def big(t: pa.Table, copies: int = 4) -> pa.Table:
    """The batch ``copies`` times over (new ids, five schools): large enough for the batch statistics
    (thresholds.yml: min_rows_for_batch_statistics)."""
    rows = [{**r, "school_id": f"SCH-{i % 5:04d}", "submission_id": str(uuid.UUID(int=i + 1, version=4))}
            for i, r in enumerate(_rows(t) * copies)]
    return _table(rows, t.schema)


def on_big(defect):
    return lambda t: defect(big(t))


def cast(column: str, to: pa.DataType):
    def apply(t: pa.Table) -> pa.Table:
        i = t.schema.get_field_index(column)
        return t.set_column(i, pa.field(column, to), t.column(column).cast(to))
    return apply


def extra_column(t: pa.Table) -> pa.Table:
    return t.append_column("comment", pa.array(["x"] * t.num_rows))


CASES = {
    "extra column": (extra_column, {"schema.columns"}),
    "item stored as int64": (cast("t_lf01", pa.int64()), {"schema.types"}),
    "null school": (edit(school_id=None), {"not_null"}),
    "null respondent key": (edit(respondent_key=None), {"not_null"}),
    "duplicate submission id": (duplicate_id, {"unique.submission_id"}),
    "raw respondent id": (edit(respondent_key="T-SCH-0001-7"), {"pseudonym.respondent_key"}),
    "unknown term": (edit(term="summer"), {"domain.term", "partition.term"}),
    "row of another term": (edit(term="spring"), {"partition.term"}),
    "malformed school year": (edit(school_year="2024/25"), {"domain.school_year", "partition.school_year"}),
    "unknown grade band": (edit(grade_band="college"), {"domain.grade_band"}),
    "unknown sample": (edit(sample="pilot"), {"domain.sample"}),
    "other instrument": (edit(instrument="student"), {"domain.instrument"}),
    "unknown version": (edit(instrument_version="9.9"), {"domain.instrument_version"}),  # 30 rows: no share judged
    "after the window": (edit(submitted_at=datetime(2024, 12, 1, tzinfo=UTC)), {"window.submitted_at"}),
    "before the window": (edit(submitted_at=datetime(2024, 7, 31, 23, 59, tzinfo=UTC)), {"window.submitted_at"}),
    "negative weight": (edit(weight=-1.0), {"domain.weight"}),
    "category out of range": (edit(t_lf01=5), {"categories"}),
    "negative category": (edit(t_ld03=-1), {"categories"}),
    "item mostly skipped": (on_big(skip_item("t_ll02", 0.5)), {"skips"}),
    "empty submissions": (on_big(null_items(3)), {"answered_share"}),
    "school flood": (flood, {"batch.school_flood"}),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_defect_fails_exactly_its_checks(name, suite_runner, tmp_path):
    defect, expected = CASES[name]
    path = tmp_path / "f.parquet"
    pq.write_table(defect(fixture_table(SUITE)), path)
    out = suite_runner.run_file(path, *PARTITION)
    assert not out.success
    assert {f["check"] for f in out.failed} == expected
    named = NAMES.get(name)
    if named:  # set-wise checks name the offending column and value
        observed = next(f for f in out.failed if f["check"] == named[0])["observed_value"]
        assert set(observed) == {named[1]}, observed
        assert named[2] is None or observed[named[1]]["sample"] == [named[2]]


NAMES = {"null school": ("not_null", "school_id", None), "null respondent key": ("not_null", "respondent_key", None),
         "category out of range": ("categories", "t_lf01", 5), "negative category": ("categories", "t_ld03", -1),
         "item mostly skipped": ("skips", "t_ll02", None)}


def test_a_small_file_is_not_judged_on_batch_statistics(suite_runner, tmp_path):
    """A 3-row file (a service-mode flush) with one respondent who skipped most items and one empty
    submission: 33% skips and answered share in 1 of 3 are no evidence about the batch. Both checks
    pass "not evaluated"; the per-term check (expectations.term_checks) sees the term as a whole."""
    t = fixture_table(SUITE).slice(0, 3)
    t = skip_item("t_ll02", 0.34)(null_items(1)(t))
    pq.write_table(t, tmp_path / "f.parquet")
    out = suite_runner.run_file(tmp_path / "f.parquet", *PARTITION)
    assert out.success, out.failed
    observed = {r["expectation_config"]["meta"]["check"]: r["result"].get("observed_value")
                for r in out.result["results"]}
    assert observed["skips"].startswith("not evaluated: 3 rows") and observed["answered_share"].startswith("not")


def test_window_edges_are_inclusive(suite_runner, tmp_path):
    t = fixture_table(SUITE)
    t = edit(submitted_at=datetime(2024, 11, 30, 23, 59, 59, tzinfo=UTC))(t)
    t = _table([{**r, "submitted_at": datetime(2024, 8, 1, tzinfo=UTC)} if i == 1 else r
                for i, r in enumerate(_rows(t))], t.schema)
    pq.write_table(t, tmp_path / "f.parquet")
    assert suite_runner.run_file(tmp_path / "f.parquet", *PARTITION).success


def test_a_few_low_effort_submissions_are_tolerated(suite_runner, tmp_path):
    """answered_share_mostly: one empty submission among 300 (0.3%) does not quarantine the batch."""
    t = flood(fixture_table(SUITE))  # 270 rows, all one school: give them distinct schools
    rows = [{**r, "school_id": f"SCH-{i % 5:04d}"} for i, r in enumerate(_rows(t))]
    pq.write_table(null_items(1)(_table(rows, t.schema)), tmp_path / "f.parquet")
    assert suite_runner.run_file(tmp_path / "f.parquet", *PARTITION).success


def test_empty_file_fails_row_count(suite_runner, tmp_path):
    pq.write_table(fixture_table(SUITE).slice(0, 0), tmp_path / "f.parquet")
    out = suite_runner.run_file(tmp_path / "f.parquet", *PARTITION)
    assert not out.success and "batch.row_count" in {f["check"] for f in out.failed}


def test_unreadable_file_fails_without_raising(suite_runner, tmp_path):
    (tmp_path / "f.parquet").write_bytes(b"PAR1 this is not parquet")
    out = suite_runner.run_file(tmp_path / "f.parquet", *PARTITION)
    assert not out.success and out.error and [f["check"] for f in out.failed] == ["file.readable"]


def test_partition_without_a_term_window_fails_the_window(suite_runner, tmp_path):
    pq.write_table(fixture_table(SUITE), tmp_path / "f.parquet")
    out = suite_runner.run_file(tmp_path / "f.parquet", "teacher", "2024-25", "summer")
    assert {"window.submitted_at", "partition.term"} <= {f["check"] for f in out.failed}
