"""Batch statistics at the right grain: a stream of small files (service-mode flushes) is never
quarantined for a share, and the term as a whole is judged on it (expectations.term_checks)."""

from __future__ import annotations

import json

import pyarrow as pa
from support.expectations import fixture_table, write_raw

from expectations.runner import run_validation

STUDENT = ("student", "2024-25", "spring")
ITEMS = ("s_lf01", "s_ld02", "s_ll03")


def _with(table: pa.Table, rows: range, skip: tuple[str, ...]) -> pa.Table:
    """The table with ``skip`` items set to null (skipped) in ``rows``."""
    for item in skip:
        i = table.schema.get_field_index(item)
        values = [None if r in rows else v for r, v in enumerate(table.column(item).to_pylist())]
        table = table.set_column(i, table.schema.field(i), pa.array(values, table.schema.field(i).type))
    return table


def _stream(settings, table: pa.Table, size: int = 3) -> int:
    """Land the table as a stream of ``size``-row files, as 2-second flushes would."""
    starts = range(0, table.num_rows, size)
    for start in starts:
        write_raw(settings, table.slice(start, size), STUDENT, 0, start)
    return len(starts)


def test_a_stream_of_small_files_is_never_quarantined_for_a_statistic(leap_env):
    """Clean data with what real respondents do: an empty submission, three who skip most items. In
    3-row files each is a 33% share; the term (173 submissions) is well within the thresholds."""
    t = fixture_table("raw_student_submissions")
    t = _with(t, range(0, 1), tuple(c for c in t.column_names if c.startswith("s_")))  # one empty submission
    t = _with(t, range(10, 13), ITEMS)
    n_files = _stream(leap_env, t)
    report = run_validation(leap_env)
    assert not report.quarantined, report.quarantined
    assert len(report.validated) == n_files and report.term_checks == []
    doc = json.loads((leap_env.layout.validation_term_checks / "student" / "2024-25" / "spring.json").read_text())
    assert doc["evaluated"] and doc["rows"] == t.num_rows and doc["findings"] == []


def test_the_term_check_names_what_small_files_hide(leap_env):
    """An item skipped by 40% of the term's submissions, spread over 3-row files: still no file is
    quarantined (a file's share says nothing), and the term check names the item and its share."""
    t = fixture_table("raw_student_submissions")
    t = _with(t, range(0, round(0.4 * t.num_rows)), ("s_ld02",))
    _stream(leap_env, t)
    report = run_validation(leap_env)
    assert not report.quarantined
    (finding,) = report.term_checks
    assert finding["check"] == "skips" and finding["item"] == "s_ld02" and 0.4 <= finding["value"] < 0.5  # 40% + its own skips
    assert (finding["instrument"], finding["school_year"], finding["term"]) == STUDENT
