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

from dbt_project import pymodels as pm
from weights.cell_sums import category_sum_blocks


def respondents_sql(dbt) -> str:
    """Per counted submission of the changed partitions: its cell's number (instrument x school year x term
    x school x grade band x sample; an instrument's cells are consecutive numbers) and w / k."""
    changed = pm.partition_condition(dbt.config.get("changed_partitions"), dbt.is_incremental, "r.school_year", "r.term")
    return f"""
        select r.submission_id, r.instrument, r.school_year, r.term, r.school_id, r.grade_band, r.sample,
            k.w_scale, w.analysis_weight / k.w_scale as w,
            dense_rank() over (order by r.instrument, r.school_year, r.term, r.school_id, r.grade_band,
                r.sample) - 1 as cell_id
        from {pm.relation(dbt.ref("int_respondents"))} as r
        inner join {pm.relation(dbt.ref("int_respondent_weights"))} as w
            using (instrument, school_year, term, respondent_key)
        inner join {pm.relation(dbt.ref("int_school_weight_scales"))} as k
            using (instrument, school_year, term, school_id)
        where {changed}"""


def sum_blocks(cells, responses, w, items):
    return category_sum_blocks(cells, responses, w)


def model(dbt, session):
    dbt.config(materialized="incremental", incremental_strategy="append", on_schema_change="fail")
    session.execute(f"create or replace temp table _respondents as {respondents_sql(dbt)}")
    pm.store_weighted_sums(session, dbt.ref("int_item_numbers"), dbt.ref("items"), {
        "teacher": dbt.ref("stg_lake__teacher_submissions"), "student": dbt.ref("stg_lake__student_submissions")},
        sum_blocks)
    return session.sql(f"""
        with cells as (
            select distinct cell_id, instrument, school_year, term, school_id, grade_band, sample, w_scale
            from _respondents
        )
        select c.instrument, c.school_year, c.term, i.item_id, c.school_id, c.grade_band, c.sample,
            nullif(s.category, -1) as category, s.n, c.w_scale, s.w_sum, s.w2_sum
        from _sums as s
        inner join cells as c using (cell_id)
        inner join {pm.relation(dbt.ref("int_item_numbers"))} as i using (item_no)""")
