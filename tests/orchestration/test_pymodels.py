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


# -- large reads in turn -------------------------------------------------------------------------

SMALL, LARGE = 10, 10**8  # rows of a model's largest read: a few, and far more than a quarter of 1 GB holds
SCHEMA = pa.schema([("x", pa.int64())])


def _batches_of(n: int = 3):
    """A sums model's batches_of: its reads done when called, then ``n`` batches."""
    def batches_of(instrument, staged):
        return (pa.record_batch([pa.array([k])], schema=SCHEMA) for k in range(n))
    return batches_of


def _sums(con, model: str, rows: int, batches_of=None):
    return pm.sums_stream(con, SCHEMA, model, {"student": None}, batches_of or _batches_of(), rows)


@pytest.fixture
def limited():
    """A connection with the dbt plugin's functions on it (as dbt-duckdb opens its own)."""
    from dbt_project.functions import Plugin

    con = duckdb.connect(config={"memory_limit": "1GB"})
    Plugin(name="functions", plugin_config={}).configure_connection(con)
    yield con
    con.close()
    held = pm.TURN.holder
    if held is not None:  # a failed test must not leave the next ones waiting for the turn
        pm.TURN.give_back(held)
    assert held is None  # every test leaves the turn free


def _write_and_commit(con, relation, table: str = "t") -> None:
    """What dbt does with a model's relation: its table in a transaction, then the commit."""
    con.execute("begin")
    con.register("sums", relation)
    con.execute(f"create table {table} as select * from sums")
    con.execute("commit")


def test_duckdbs_memory_limit_in_bytes(limited):
    assert pm.memory_limit(limited) == pytest.approx(10**9, rel=0.01)  # shown as '953.6 MiB'
    limited.execute("set memory_limit = '3GiB'")
    assert pm.memory_limit(limited) == 3 * 2**30


def test_the_largest_instrument_counts_its_respondents(limited):
    limited.execute("create table r as select * from (values ('student', 'fall'), ('student', 'spring'), "
                    "('student', 'fall'), ('teacher', 'fall')) as t(instrument, term)")
    respondents = limited.sql("select * from r")
    assert pm.largest_instrument(limited, respondents) == 3
    assert pm.largest_instrument(limited, respondents, "term = 'fall'") == 2
    assert pm.largest_instrument(limited, respondents, "false") == 0


def test_small_reads_run_side_by_side(limited):
    first = _sums(limited, "a", SMALL)  # its table not written yet
    assert pm.TURN.holder is None
    second = _sums(limited, "b", SMALL)
    assert first.to_arrow_table().num_rows == second.to_arrow_table().num_rows == 3


def test_a_large_read_holds_the_turn_until_dbt_has_committed_its_table(limited):
    _write_and_commit(limited, _sums(limited, "a", LARGE))
    assert pm.TURN.holder == "a"  # the stream has ended and the table is committed: the post-hook is next
    assert limited.sql("select leap_turn_done('a')").fetchall() == [(True,)]
    assert pm.TURN.holder is None
    assert limited.sql("select leap_turn_done('a')").fetchall() == [(False,)]  # a small read's post-hook


def test_a_large_read_waits_for_the_commit_of_the_one_before_it(limited):
    import threading

    _write_and_commit(limited, _sums(limited, "a", LARGE))  # stream ended, table committed, no post-hook yet
    started, done = threading.Event(), []

    def second_model():
        con = limited.cursor()
        try:
            started.set()
            done.append(_sums(con, "b", LARGE).to_arrow_table().num_rows)
            pm.TURN.give_back("b")
        finally:
            con.close()

    thread = threading.Thread(target=second_model)
    thread.start()
    started.wait(5)
    thread.join(0.5)
    assert thread.is_alive() and not done  # waiting for a's post-hook
    limited.sql("select leap_turn_done('a')").fetchall()
    thread.join(5)
    assert done == [3]


def test_the_turn_is_given_back_when_a_model_fails_or_its_table_is_never_written(limited):
    def fails(instrument, staged):
        raise RuntimeError("a read failed")

    with pytest.raises(RuntimeError):
        _sums(limited, "a", LARGE, fails)
    assert pm.TURN.holder is None

    def block_fails(instrument, staged):
        yield from _batches_of(1)(instrument, staged)
        raise RuntimeError("a block failed")

    with pytest.raises(Exception, match="a block failed"):
        _sums(limited, "a", LARGE, block_fails).to_arrow_table()
    assert pm.TURN.holder is None
    relation = _sums(limited, "a", LARGE)
    assert pm.TURN.holder == "a"
    del relation
    import gc

    gc.collect()
    assert pm.TURN.holder is None


def test_a_table_never_committed_gives_the_turn_back_after_the_commit_wait(limited, monkeypatch):
    import time

    monkeypatch.setattr(pm, "COMMIT_WAIT_SECONDS", 0.2)
    assert _sums(limited, "a", LARGE).to_arrow_table().num_rows == 3  # its commit failed: no post-hook
    assert pm.TURN.holder == "a"
    deadline = time.monotonic() + 5
    while pm.TURN.holder is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pm.TURN.holder is None


def test_a_turn_never_given_back_delays_a_large_read_but_does_not_stop_it(limited, monkeypatch):
    monkeypatch.setattr(pm, "TURN_WAIT_SECONDS", 0.2)
    assert pm.TURN.take("stuck")  # a model whose stream is held by a traceback, never collected
    try:
        assert _sums(limited, "late", LARGE).to_arrow_table().num_rows == 3
        assert pm.TURN.holder == "stuck"  # the late model did not take (or give back) a turn it never had
    finally:
        assert pm.TURN.give_back("stuck")
