"""What the warehouse's Python models share (dbt runs them in its process, on the build's DuckDB
connection): the changed partitions of an incremental build, a relation's SQL, an instrument's wide
response rows as a matrix. The models themselves live beside the SQL ones (models/intermediate/*.py):
int_weighting_cells rakes the weights, and the response sums (int_school_item_sums,
int_school_subgroup_sums, int_classroom_item_sums) count the wide rows with weights.cell_sums.

Partitions (macros/partitions.sql, the SQL side of the same rule): an incremental model is given the
build's var ``partitions`` as its config ``changed_partitions`` (dbt_project.yml renders it natively: a
list, or None without the var); :func:`partition_condition` is the SQL macro ``in_changed_partitions()``
and the models' pre-hook ``delete_changed_partitions()`` deletes the same partitions first.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

__all__ = ["append", "item_numbers", "partition_condition", "relation", "sql_literal",
           "store_weighted_sums", "wide_responses"]

CHUNK_ROWS = 1_000_000  # wide rows read at a time: 24 MB of answers; a million submissions' 806 k students in one
WEIGHTED_SUMS = "_sums"  # the temp table a weighted sums model fills before it joins the cells' keys back


def sql_literal(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def relation(ref) -> str:
    """A ref's SQL (``dbt.ref("name")``: dbt finds a model's refs in its own file, as literal calls) as a
    parenthesized subquery, to write into a query of the model's own."""
    return f"({ref.sql_query()})"


def partition_condition(parts: list[str] | None, is_incremental: bool, school_year: str = "school_year",
                        term: str = "term") -> str:
    """The rows of the partitions this build rebuilds (as in_changed_partitions(): every row unless the
    model is incremental and the build was given ``partitions``; none for an empty list). ``parts``:
    ``dbt.config.get("changed_partitions")``, called in the model's file (dbt gives a Python model the
    config keys its own file asks for, literally), ``is_incremental``: ``dbt.is_incremental``."""
    if not is_incremental or parts is None:
        return "true"
    if not parts:
        return "false"
    return f"({school_year} || '/' || {term}) in ({', '.join(sql_literal(p) for p in parts)})"


def item_numbers(session, numbers, items, instrument: str) -> list[dict]:
    """The instrument's items in item id order: item_id, item_no (``numbers``: the ref of int_item_numbers),
    top_box_min and is_classroom_indicator (``items``: the ref of the items seed)."""
    rows = session.sql(f"""
        select distinct n.item_id, n.item_no, i.top_box_min, i.is_classroom_indicator
        from {relation(numbers)} as n inner join {relation(items)} as i using (instrument, item_id)
        where n.instrument = {sql_literal(instrument)} order by n.item_id""").fetchall()
    return [{"item_id": str(r[0]), "item_no": int(r[1]), "top_box_min": int(r[2]), "is_classroom_indicator": bool(r[3])}
            for r in rows]


def wide_responses(session, rows: str, instrument: str, submissions, item_ids: list[str],
                   columns: tuple[str, ...] = ("cell_id",), chunk_rows: int | None = None):
    """The rows of the table ``rows`` (submission_id, instrument, cell_id, ...) of ``instrument``, each with
    its submission's answers (``submissions``: the ref of the instrument's staging model), sorted by cell
    and submission id: the order the sums add them in (weights.cell_sums), the same in every build.
    Yields (``columns`` as NumPy arrays, the answers to ``item_ids`` as an int8 matrix, -1 = skipped) for
    whole cells, at most about ``chunk_rows`` (CHUNK_ROWS) rows at a time: memory set by a chunk, not by
    the data (ten million submissions: 8 M student rows; read at once, the sums models held ~1 GB each
    beside DuckDB's 2 GB, the warehouse step 4.9 GB). Up to a chunk's rows are read in one query; more are
    joined into a temp table first (numbered in that order) and read a range of cells at a time (a streamed
    result would hold the connection, whose temp tables the sums go into meanwhile)."""
    chunk_rows = chunk_rows or CHUNK_ROWS
    joined = f"""
        from {rows} as r inner join {relation(submissions)} as s using (submission_id)
        where r.instrument = {sql_literal(instrument)}"""
    wanted = f"{', '.join(f'r.{c}' for c in columns)}, {', '.join(f's.{i}' for i in item_ids)}"
    n_rows = session.sql(f"select count(*) from {rows} where instrument = {sql_literal(instrument)}").fetchall()[0][0]
    if n_rows <= chunk_rows:
        yield _arrays(session.sql(f"select {wanted} {joined} order by r.cell_id, r.submission_id").to_arrow_table(),
                      columns, item_ids)
        return
    session.execute(f"create or replace temp table _wide as select row_number() over "
                    f"(order by r.cell_id, r.submission_id) as position, {wanted} {joined}")
    sizes = session.sql("select cell_id, count(*) from _wide group by cell_id order by cell_id").fetchall()
    try:
        for first, last in _cell_ranges(sizes, chunk_rows):
            yield _arrays(session.sql(f"select * exclude (position) from _wide where cell_id between {first} and "
                                      f"{last} order by position").to_arrow_table(), columns, item_ids)
    finally:
        session.execute("drop table if exists _wide")


def _cell_ranges(sizes: list[tuple[int, int]], chunk_rows: int):
    """(first, last) cell numbers of consecutive ranges of at most ``chunk_rows`` rows (a cell is never
    split: a larger cell is a range of its own), from (cell, rows) in cell order."""
    start, previous, total = None, None, 0
    for cell, n in sizes:
        if start is not None and total + n > chunk_rows:
            yield start, previous
            start, total = None, 0
        start = cell if start is None else start
        total += n
        previous = cell
    if start is not None:
        yield start, previous


def _arrays(table: pa.Table, columns: tuple[str, ...], item_ids: list[str]) -> tuple[dict, np.ndarray]:
    responses = np.empty((table.num_rows, len(item_ids)), dtype=np.int8)
    for j, item in enumerate(item_ids):
        responses[:, j] = table.column(item).fill_null(-1).to_numpy()
    return {c: table.column(c).to_numpy() for c in columns}, responses


def append(session, table: str, rows: pa.Table) -> None:
    """Insert an Arrow table's rows into ``table`` (a temp table of the model's connection)."""
    session.register("_rows", rows)
    try:
        session.execute(f"insert into {table} select * from _rows")
    finally:
        session.unregister("_rows")


def store_weighted_sums(session, numbers, items, submissions: dict, sum_blocks) -> None:
    """The weighted sums of a response sums model (int_school_item_sums, int_school_subgroup_sums) into the
    temp table WEIGHTED_SUMS, on numbers: cell_id, item_no, category (-1: skipped), n, w_sum, w2_sum. Per
    instrument (``submissions``: its name -> the ref of its staging model; ``numbers``, ``items``: the
    refs of int_item_numbers and the items seed), its rows of ``_respondents`` (cell_id, w) with their
    answers, summed by ``sum_blocks(cells, responses, w, items)`` (weights.cell_sums.category_sum_blocks,
    the answers recoded or not; ``items`` as :func:`item_numbers` gives them), a block of cells at a time."""
    session.execute(f"create or replace temp table {WEIGHTED_SUMS} (cell_id bigint, item_no smallint, "
                    "category tinyint, n bigint, w_sum double, w2_sum double)")
    for instrument, staged in submissions.items():
        listed = item_numbers(session, numbers, items, instrument)
        item_no = pa.array([i["item_no"] for i in listed], pa.int16())
        for rows, responses in wide_responses(session, "_respondents", instrument, staged,
                                              [i["item_id"] for i in listed], ("cell_id", "w")):
            for sums in sum_blocks(rows["cell_id"], responses, rows["w"], listed):
                append(session, WEIGHTED_SUMS, pa.table({
                    "cell_id": sums.cell, "item_no": item_no.take(pa.array(sums.item)),
                    "category": pa.array(sums.category, pa.int8()), "n": sums.n, "w_sum": sums.w_sum,
                    "w2_sum": sums.w2_sum}))
