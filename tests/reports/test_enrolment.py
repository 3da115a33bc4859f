"""The enrolment input (expected respondents): a clear error naming the line and field, nothing installed
on a bad file, and the warehouse table loaded from a good one."""

from __future__ import annotations

import duckdb
import pytest

from dbt_project.inputs import install_enrolment, load_inputs, read_enrolment
from leap.errors import LeapError

HEADER = "school_id,school_year,term,instrument,expected_respondents\n"


def test_a_good_file_is_installed_and_loaded(leap_env, tmp_path):
    src = tmp_path / "rosters.csv"
    src.write_text(HEADER + "SCH-1,2024-25,fall,teacher,14\nSCH-1,2024-25,fall,student,80\n")
    assert install_enrolment(leap_env, src) == 2
    assert leap_env.layout.enrolment.read_bytes() == src.read_bytes()
    load_inputs(leap_env)
    con = duckdb.connect(str(leap_env.layout.warehouse), read_only=True)
    try:
        rows = con.execute("select * from inputs.expected_respondents order by instrument").fetchall()
    finally:
        con.close()
    assert rows == [("SCH-1", "2024-25", "fall", "student", 80), ("SCH-1", "2024-25", "fall", "teacher", 14)]


def test_without_a_file_the_table_is_empty(leap_env):
    load_inputs(leap_env)
    con = duckdb.connect(str(leap_env.layout.warehouse), read_only=True)
    try:
        assert con.execute("select count(*) from inputs.expected_respondents").fetchone() == (0,)
    finally:
        con.close()


@pytest.mark.parametrize("body, message", [
    ("SCH-1,2024-25,fall,teacher,zero\n", "line 2: expected_respondents 'zero' is not a whole number"),
    ("SCH-1,2024-25,fall,teacher,0\n", "must be at least 1"),
    ("SCH-1,2024-25,autumn,teacher,3\n", "line 2: term 'autumn'"),
    ("SCH-1,2024-25,fall,parent,3\n", "instrument 'parent'"),
    ("SCH 1,2024-25,fall,teacher,3\n", "school_id 'SCH 1'"),
    ("SCH-1,2024-25,fall,teacher,3\nSCH-1,2024-25,fall,teacher,4\n", "given twice"),
])
def test_a_bad_row_is_named_and_nothing_is_installed(leap_env, tmp_path, body, message):
    src = tmp_path / "rosters.csv"
    src.write_text(HEADER + body)
    with pytest.raises(LeapError, match=message.replace("(", r"\(")):
        install_enrolment(leap_env, src)
    assert not leap_env.layout.enrolment.exists()


def test_a_wrong_header_says_what_is_expected(tmp_path):
    src = tmp_path / "rosters.csv"
    src.write_text("school,term,n\nSCH-1,fall,3\n")
    with pytest.raises(LeapError, match="the header must be school_id,school_year,term,instrument"):
        read_enrolment(src)
