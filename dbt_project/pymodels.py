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
                   columns: tuple[str, ...] = ("cell_id",)) -> tuple[dict, np.ndarray]:
    """The rows of the table ``rows`` (submission_id, instrument, cell_id, ...) of ``instrument``, each with
    its submission's answers (``submissions``: the ref of the instrument's staging model), sorted by cell
    and submission id: the order the sums add them in (weights.cell_sums), the same in every build.
    Returns (``columns`` as NumPy arrays, the answers to ``item_ids`` as an int8 matrix, -1 = skipped):
    one byte per answer (ten million submissions: 8 M students x 24 items, 0.2 GB; their sums are larger,
    ~1.8 GB, and go to DuckDB a block at a time, :func:`append`)."""
    table = session.sql(f"""
        select {", ".join(f"r.{c}" for c in columns)}, {", ".join(f"s.{i}" for i in item_ids)}
        from {rows} as r inner join {relation(submissions)} as s using (submission_id)
        where r.instrument = {sql_literal(instrument)}
        order by r.cell_id, r.submission_id""").to_arrow_table()
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
        rows, responses = wide_responses(session, "_respondents", instrument, staged,
                                         [i["item_id"] for i in listed], ("cell_id", "w"))
        for sums in sum_blocks(rows["cell_id"], responses, rows["w"], listed):
            append(session, WEIGHTED_SUMS, pa.table({
                "cell_id": sums.cell, "item_no": item_no.take(pa.array(sums.item)),
                "category": pa.array(sums.category, pa.int8()), "n": sums.n, "w_sum": sums.w_sum,
                "w2_sum": sums.w2_sum}))
