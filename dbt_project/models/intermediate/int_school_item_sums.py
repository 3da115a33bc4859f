"""Grain: one row per instrument x school year x term x item x school x grade band x sample x category
chosen (null: skipped). The respondent x item responses summed once, for every estimate that reads them
(macros/weighted_proportion.sql with summed=true: the school's own distribution, the national
distribution and top-box shares): n respondents, and the sums of w / k and (w / k)^2 where k (w_scale,
int_school_weight_scales) is the school's mean analysis weight on the instrument that term. Dividing by k
first keeps the squares of tiny weights (1e-200) from underflowing; the estimator multiplies by
k / (its cell's mean weight) again, so every estimate is that of the rows.

Counted from the wide rows, a respondent's answers in one row (weights.cell_sums: a bin per cell x item x
category, np.bincount), not from a long form of every response; the cells and weights by SQL, the rows
in cell and submission order (dbt_project.pymodels.wide_responses: the same bits in every build), the
sums into a temp table a block of cells at a time.
Incremental by school year x term (dbt_project.pymodels.partition_condition).
"""

import pyarrow as pa

from dbt_project.pymodels import append, item_numbers, partition_condition, relation, wide_responses
from weights.cell_sums import category_sum_blocks


def respondents_sql(dbt) -> str:
    """Per counted submission of the changed partitions: its cell's number (instrument x school year x term
    x school x grade band x sample; an instrument's cells are consecutive numbers) and w / k."""
    changed = partition_condition(dbt.config.get("changed_partitions"), dbt.is_incremental, "r.school_year", "r.term")
    return f"""
        select r.submission_id, r.instrument, r.school_year, r.term, r.school_id, r.grade_band, r.sample,
            k.w_scale, w.analysis_weight / k.w_scale as w,
            dense_rank() over (order by r.instrument, r.school_year, r.term, r.school_id, r.grade_band,
                r.sample) - 1 as cell_id
        from {relation(dbt.ref("int_respondents"))} as r
        inner join {relation(dbt.ref("int_respondent_weights"))} as w
            using (instrument, school_year, term, respondent_key)
        inner join {relation(dbt.ref("int_school_weight_scales"))} as k
            using (instrument, school_year, term, school_id)
        where {changed}"""


SUMS = "cell_id bigint, item_no smallint, category tinyint, n bigint, w_sum double, w2_sum double"


def instrument_sums(session, dbt, instrument: str, submissions) -> None:
    """The instrument's sums on numbers into _sums: cell_id, item_no, category (-1 skipped), n, w_sum,
    w2_sum, a block of cells at a time."""
    items = item_numbers(session, dbt.ref("int_item_numbers"), dbt.ref("items"), instrument)
    numbers = pa.array([i["item_no"] for i in items], pa.int16())
    rows, responses = wide_responses(session, "_respondents", instrument, submissions,
                                     [i["item_id"] for i in items], ("cell_id", "w"))
    for sums in category_sum_blocks(rows["cell_id"], responses, rows["w"]):
        append(session, "_sums", pa.table({
            "cell_id": sums.cell, "item_no": numbers.take(pa.array(sums.item)),
            "category": pa.array(sums.category, pa.int8()), "n": sums.n, "w_sum": sums.w_sum, "w2_sum": sums.w2_sum}))


def model(dbt, session):
    dbt.config(materialized="incremental", incremental_strategy="append", on_schema_change="fail")
    session.execute(f"create or replace temp table _respondents as {respondents_sql(dbt)}")
    session.execute(f"create or replace temp table _sums ({SUMS})")
    instrument_sums(session, dbt, "teacher", dbt.ref("stg_lake__teacher_submissions"))
    instrument_sums(session, dbt, "student", dbt.ref("stg_lake__student_submissions"))
    return session.sql(f"""
        with cells as (
            select distinct cell_id, instrument, school_year, term, school_id, grade_band, sample, w_scale
            from _respondents
        )
        select c.instrument, c.school_year, c.term, i.item_id, c.school_id, c.grade_band, c.sample,
            nullif(s.category, -1) as category, s.n, c.w_scale, s.w_sum, s.w2_sum
        from _sums as s
        inner join cells as c using (cell_id)
        inner join {relation(dbt.ref("int_item_numbers"))} as i using (item_no)""")
