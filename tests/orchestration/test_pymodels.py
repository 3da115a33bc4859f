"""dbt_project.pymodels, what the warehouse's Python models share: an instrument's rows come numbered by
cell, in cell then submission order (the order of every sum), whatever the batches; the sums' tables are
written a batch at a time with each row's cell keys; the partition condition is the SQL macro's rule."""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from dbt_project import pymodels as pm
from weights.cell_sums import SKIPPED, category_sum_blocks

ITEMS = ["i1", "i2", "i3"]


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
    con.execute("create table rows (submission_id varchar, school_id varchar, band varchar, w double, k double)")
    schools = [f"sch{s:02d}" for s in rng.integers(0, 15, n)]
    bands = [None if b == 2 else f"b{b}" for b in rng.integers(0, 3, n)]  # null keys are a cell too
    con.executemany("insert into rows values (?, ?, ?, ?, ?)",
                    [[ids[k], schools[k], bands[k], float(rng.random()), float(hash(schools[k]) % 7 + 1)]
                     for k in range(n)])
    return con


def read(con, **options):
    return pm.cell_rows(con, "select * from rows", con.sql("select * from submissions"), ITEMS, ("school_id", "band"),
                        values=("w",), attributes=("k",), **options)


@pytest.mark.parametrize("batch_rows", [7, 1 << 17])
def test_the_rows_come_in_cell_then_submission_order(con, monkeypatch, batch_rows):
    monkeypatch.setattr(pm, "BATCH_ROWS", batch_rows)  # 7: cells run across the batches
    rows = read(con)
    expected = con.sql("""
        select r.school_id, r.band, r.k, r.w, coalesce(s.i2, -1) as i2 from rows as r inner join submissions as s using (submission_id)
        order by r.school_id, r.band nulls last, r.submission_id""").to_arrow_table().to_pydict()
    np.testing.assert_array_equal(rows.values["w"], expected["w"])
    np.testing.assert_array_equal(rows.responses[:, 1], expected["i2"])
    assert (rows.responses == -1).any() and rows.responses.dtype == np.int8
    assert np.all(np.diff(rows.cell) >= 0) and rows.cell.dtype == np.int64
    cells = rows.cells.take(pa.array(rows.cell)).to_pydict()  # each row's cell keys are its own
    assert cells["school_id"] == expected["school_id"] and cells["band"] == expected["band"]
    assert cells["k"] == expected["k"] and None in cells["band"]
    keys = list(zip(rows.cells.column("school_id").to_pylist(), rows.cells.column("band").to_pylist(), strict=True))
    assert len(set(keys)) == len(keys) == rows.cell.max() + 1  # a number per cell, none twice


def test_a_cell_without_rows_has_no_attributes(con):
    rows = read(con, cells="select school_id, band from rows union all select 'zzz', 'b0'")
    empty = rows.cells.column("school_id").to_pylist().index("zzz")
    assert rows.cells.column("k")[empty].as_py() is None and empty not in rows.cell
    assert rows.cells.num_rows == rows.cell.max() + 2


def test_no_rows(con):
    rows = pm.cell_rows(con, "select * from rows where false", con.sql("select * from submissions"), ITEMS,
                        ("school_id",), values=("w",), attributes=("k",))
    assert rows.responses.shape == (0, 3) and rows.cell.size == 0 and rows.cells.num_rows == 0


def test_the_tables_come_a_batch_at_a_time_with_each_rows_keys(con, monkeypatch):
    monkeypatch.setattr(pm, "BATCH_ROWS", 50)
    rows = read(con)
    schema = pa.schema([("instrument", pa.string()), ("school_id", pa.string()), ("band", pa.string()),
                        ("item_id", pa.string()), ("category", pa.int8()), ("n", pa.int64()), ("k", pa.float64()),
                        ("w_sum", pa.float64()), ("w2_sum", pa.float64())])
    batches = list(pm.weighted_sum_batches(schema, "student", rows, ITEMS,
                                           category_sum_blocks(rows.cell, rows.responses, rows.values["w"])))
    assert max(b.num_rows for b in batches) == 50 and all(b.schema == schema for b in batches)
    con.register("sums", pm.stream(con, schema, iter(batches)))
    con.execute("create table t as select * from sums")
    mismatched = con.sql("""
        with expected as (
            select r.school_id, r.band, 'i1' as item_id, s.i1 as category, count(*) as n, sum(r.w) as w_sum
            from rows as r inner join submissions as s using (submission_id) group by all
        )
        select count(*) from expected as e full join (select * from t where item_id = 'i1') as t
            on e.school_id = t.school_id and e.band is not distinct from t.band and e.category is not distinct from t.category
        where e.n is distinct from t.n or abs(e.w_sum - t.w_sum) > 1e-12""").fetchall()[0][0]
    assert mismatched == 0 and con.sql("select count(*) from t where category is null").fetchall()[0][0] > 0


def test_a_skip_is_the_kernels_code():
    assert pm.SKIPPED == SKIPPED


@pytest.mark.parametrize(("parts", "incremental", "condition"), [
    (None, True, "true"), (["2024-25/fall"], False, "true"), ([], True, "false"),
    (["2024-25/fall", "it's"], True, "(school_year || '/' || term) in ('2024-25/fall', 'it''s')"),
])
def test_partition_condition_is_the_macros_rule(parts, incremental, condition):
    assert pm.partition_condition(parts, incremental) == condition
