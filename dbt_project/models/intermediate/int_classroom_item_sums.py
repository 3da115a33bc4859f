"""Grain: one row per school x classroom x instrument x school year x term x item with an answer: the
classroom cells of rpt_classroom_items before any suppression. Teacher rows: the classroom indicators
(items.is_classroom_indicator) of the teachers who report on that classroom (a teacher lists every section
they teach, so counts overlap across classrooms); student rows: every item, from the students of the
classroom. Respondents without a classroom form the classroom_id '(none)' cell. Unweighted (within a
school the analysis weights are equal). Apart from the report so that the responses are summed as soon
as int_respondents exists, beside the school sums, and not after the school marts the report's
suppression reads (it was the last 10 s of a build at a million).

Counted from the wide rows, a respondent's row once per classroom it lists (weights.cell_sums: per cell x
item x category, then the answers, the top box and the categories' sum per cell x item). Incremental by
school year x term.
"""

import numpy as np
import pyarrow as pa

from dbt_project import pymodels as pm
from weights.cell_sums import category_sum_blocks, item_totals


def classrooms_sql(dbt) -> str:
    """Per counted submission of the changed partitions x classroom it lists ('(none)' without one): the
    classroom cell's number (instrument x school year x term x school x classroom)."""
    changed = pm.partition_condition(dbt.config.get("changed_partitions"), dbt.is_incremental)
    return f"""
        with classrooms as (
            select submission_id, instrument, school_year, term, school_id,
                unnest(coalesce(classroom_ids, ['(none)'])) as classroom_id
            from {pm.relation(dbt.ref("int_respondents"))}
            where {changed}
        )
        select *, dense_rank() over (order by instrument, school_year, term, school_id, classroom_id) - 1
            as cell_id
        from classrooms"""


TOTALS = "cell_id bigint, item_no smallint, n_respondents bigint, n_top_box bigint, category_sum bigint"


def instrument_totals(session, dbt, instrument: str, submissions) -> None:
    """The instrument's totals on numbers into _totals: cell_id, item_no, n_respondents, n_top_box,
    category_sum, a block of cells at a time."""
    items = [i for i in pm.item_numbers(session, dbt.ref("int_item_numbers"), dbt.ref("items"), instrument)
             if instrument == "student" or i["is_classroom_indicator"]]
    numbers = pa.array([i["item_no"] for i in items], pa.int16())
    top_box_min = np.array([i["top_box_min"] for i in items])
    rows, responses = pm.wide_responses(session, "_classrooms", instrument, submissions, [i["item_id"] for i in items])
    for sums in category_sum_blocks(rows["cell_id"], responses):
        totals = item_totals(sums, top_box_min)
        pm.append(session, "_totals", pa.table({
            "cell_id": totals.cell, "item_no": numbers.take(pa.array(totals.item)), "n_respondents": totals.n,
            "n_top_box": totals.n_top_box, "category_sum": totals.category_sum}))


def model(dbt, session):
    dbt.config(materialized="incremental", incremental_strategy="append", on_schema_change="fail")
    session.execute(f"create or replace temp table _classrooms as {classrooms_sql(dbt)}")
    session.execute(f"create or replace temp table _totals ({TOTALS})")
    instrument_totals(session, dbt, "teacher", dbt.ref("stg_lake__teacher_submissions"))
    instrument_totals(session, dbt, "student", dbt.ref("stg_lake__student_submissions"))
    return session.sql(f"""
        with cells as (
            select distinct cell_id, instrument, school_year, term, school_id, classroom_id from _classrooms
        )
        select c.school_id, c.classroom_id, c.instrument, c.school_year, c.term, i.item_id, t.n_respondents,
            t.n_top_box, t.category_sum
        from _totals as t
        inner join cells as c using (cell_id)
        inner join {pm.relation(dbt.ref("int_item_numbers"))} as i using (item_no)""")
