"""The exported marts are an explicit list, and the list is checked against what is published."""

from __future__ import annotations

import duckdb
import pytest

from leap.errors import LeapError
from leap.orchestration.exports import EXPORTED_MARTS, exportable_marts


def _snapshot(tables: dict[str, str]):
    con = duckdb.connect()
    for name, cols in tables.items():
        con.execute(f"create table {name} as select {cols}")
    return con


def _complete() -> dict[str, str]:
    key = {"sample": "'nextgen' as sample", "school_id": "'S1' as school_id"}
    return {t: f"false as is_suppressed, '2024-25' as school_year, {key[how]}" for t, how in EXPORTED_MARTS.items()}


def test_only_listed_marts_are_exported_whatever_their_columns():
    tables = _complete() | {"fct_lookalike": "false as is_suppressed, '2024-25' as school_year, 'x' as sample"}
    assert exportable_marts(_snapshot(tables)) == EXPORTED_MARTS  # the look-alike is not exported


def test_a_listed_mart_not_published_yet_is_skipped():
    tables = _complete()
    del tables["fct_school_growth"]
    assert exportable_marts(_snapshot(tables)) == {t: h for t, h in EXPORTED_MARTS.items() if t != "fct_school_growth"}


def test_a_listed_mart_that_lost_its_suppression_column_stops_the_export():
    tables = _complete()
    tables["fct_school_growth"] = "'2024-25' as school_year, 'S1' as school_id"
    with pytest.raises(LeapError, match="fct_school_growth lacks is_suppressed"):
        exportable_marts(_snapshot(tables))
