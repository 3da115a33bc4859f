"""dbt_project.pymodels, what the warehouse's Python models share: the wide rows come in cell, then
submission order (the order of every sum); the partition condition is the SQL macro's rule."""

from __future__ import annotations

import duckdb
import numpy as np
import pytest

from dbt_project import pymodels as pm


@pytest.fixture
def con():
    rng = np.random.default_rng(11)
    n = 400
    con = duckdb.connect()
    con.execute("create table submissions (submission_id varchar, i1 tinyint, i2 tinyint, i3 tinyint)")
    answers = rng.integers(0, 5, (n, 3))
    ids = [f"s{k:04d}" for k in rng.permutation(n)]
    con.executemany("insert into submissions values (?, ?, ?, ?)",
                    [[ids[k], *(None if rng.random() < 0.1 else int(a) for a in answers[k])] for k in range(n)])
    cells = np.sort(rng.integers(0, 40, n))
    con.execute("create temp table rows (submission_id varchar, instrument varchar, cell_id bigint, w double)")
    con.executemany("insert into rows values (?, ?, ?, ?)",
                    [[ids[k], "student" if k % 5 else "teacher", int(cells[k]), float(rng.random())] for k in range(n)])
    return con


def test_the_rows_come_in_cell_then_submission_order(con):
    whole = pm.wide_responses(con, "rows", "student", con.sql("select * from submissions"), ["i1", "i2", "i3"],
                              ("cell_id", "w"))
    assert (whole[1] == -1).any() and np.all(np.diff(whole[0]["cell_id"]) >= 0)
    expected = con.execute("""select r.cell_id, r.w from rows as r inner join submissions using (submission_id)
        where r.instrument = 'student' order by r.cell_id, r.submission_id""").fetchnumpy()
    np.testing.assert_array_equal(whole[0]["w"], expected["w"])


@pytest.mark.parametrize(("parts", "incremental", "condition"), [
    (None, True, "true"), (["2024-25/fall"], False, "true"), ([], True, "false"),
    (["2024-25/fall", "it's"], True, "(school_year || '/' || term) in ('2024-25/fall', 'it''s')"),
])
def test_partition_condition_is_the_macros_rule(parts, incremental, condition):
    assert pm.partition_condition(parts, incremental) == condition
