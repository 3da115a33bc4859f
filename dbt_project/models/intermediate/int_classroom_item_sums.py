"""Grain: one row per school x classroom x instrument x school year x term x item with an answer: the
classroom cells of rpt_classroom_items before any suppression. Teacher rows: the classroom indicators
(items.is_classroom_indicator) of the teachers who report on that classroom (a teacher lists every section
they teach, so counts overlap across classrooms); student rows: every item, from the students of the
classroom. Respondents without a classroom form the classroom_id '(none)' cell. Unweighted (within a
school the analysis weights are equal). Apart from the report so that the responses are summed beside
the school marts the report's suppression reads, not after them (it was the last 10 s of a build at a
million), and after the other two response sums (not beside them: see model()).

Counted from the wide rows, a respondent's row once per classroom it lists (weights.cell_sums: per cell x
item x category, then the answers, the top box and the categories' sum per cell x item), streamed into
the table a block of cells at a time (dbt_project.pymodels). Incremental by school year x term.
"""

import numpy as np
import pyarrow as pa

from dbt_project import pymodels as pm
from weights.cell_sums import category_sum_blocks, item_totals

KEYS = ("school_year", "term", "school_id", "classroom_id")  # a cell, within an instrument
SCHEMA = pa.schema([("school_id", pa.string()), ("classroom_id", pa.string()), ("instrument", pa.string()),
                    ("school_year", pa.string()), ("term", pa.string()), ("item_id", pa.string()),
                    ("n_respondents", pa.int64()), ("n_top_box", pa.int64()), ("category_sum", pa.int64())])


def classrooms_sql(dbt, instrument: str) -> str:
    """Per counted submission of the instrument in the changed partitions x classroom it lists ('(none)'
    without one): the classroom cell's keys."""
    changed = pm.partition_condition(dbt.config.get("changed_partitions"), dbt.is_incremental)
    return f"""
        select submission_id, school_year, term, school_id,
            unnest(coalesce(classroom_ids, ['(none)'])) as classroom_id
        from {pm.relation(dbt.ref("int_respondents"))}
        where instrument = {pm.sql_literal(instrument)} and {changed}"""


def instrument_batches(instrument: str, rows: pm.CellRows, items: list[dict]):
    """The instrument's rows of the table: a row per cell x item with an answer."""
    top_box_min = np.array([i["top_box_min"] for i in items])
    blocks = ({"cell": totals.cell, "item": totals.item, "n_respondents": totals.n, "n_top_box": totals.n_top_box,
               "category_sum": totals.category_sum}
              for totals in (item_totals(sums, top_box_min) for sums in category_sum_blocks(rows.cell, rows.responses)))
    return pm.table_batches(SCHEMA, instrument, rows, [i["item_id"] for i in items], blocks)


def model(dbt, session):
    dbt.config(materialized="incremental", incremental_strategy="append", on_schema_change="fail")
    pm.finish_pending(session)
    # named, not iterated in place: dbt finds a Python model's refs among the calls' arguments and the
    # assignments, not in a dict whose .items() is called
    submissions = {"teacher": dbt.ref("stg_lake__teacher_submissions"), "student": dbt.ref("stg_lake__student_submissions")}
    changed = pm.partition_condition(dbt.config.get("changed_partitions"), dbt.is_incremental)

    def batches_of(instrument: str, staged):
        items = [i for i in pm.item_numbers(session, dbt.ref("int_item_numbers"), dbt.ref("items"), instrument)
                 if instrument == "student" or i["is_classroom_indicator"]]
        rows = pm.cell_rows(session, classrooms_sql(dbt, instrument), staged, [i["item_id"] for i in items], KEYS)
        return instrument_batches(instrument, rows, items)

    # a read's rows: one per respondent and classroom (a student lists one; the fewer teachers, several)
    rows = pm.largest_instrument(session, dbt.ref("int_respondents"), changed)
    return pm.sums_stream(session, SCHEMA, dbt.this.identifier, submissions, batches_of, rows)
