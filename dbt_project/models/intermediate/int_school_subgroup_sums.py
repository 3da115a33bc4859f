"""Grain: one row per instrument x school year x term x item x school x subgroup variable x level x top
box (1 at or above the item's top_box_min, 0 below, null skipped), national sample only (the sample whose
weights represent the population), respondents without a level left out. The sums
int_top_box_by_subgroup estimates from (macros/weighted_proportion.sql, summed=true): n, and the sums of
w / k and (w / k)^2 with k the school's mean weight, as in int_school_item_sums (and counted as there:
from the wide rows, a respondent's row once per subgroup variable, weights.cell_sums). Incremental by
school year x term.
"""

import numpy as np

from dbt_project import pymodels as pm
from weights.cell_sums import SKIPPED, category_sum_blocks


def respondents_sql(dbt) -> str:
    """Per counted national submission of the changed partitions and subgroup variable with a level: its
    cell's number (instrument x school year x term x school x variable x level) and w / k."""
    changed = pm.partition_condition(dbt.config.get("changed_partitions"), dbt.is_incremental, "r.school_year", "r.term")
    return f"""
        with respondents as (
            select r.submission_id, r.instrument, r.school_year, r.term, r.school_id, k.w_scale,
                w.analysis_weight / k.w_scale as w,
                unnest(['race_ethnicity', 'parent_education']) as subgroup_variable,
                unnest([r.race_ethnicity, r.parent_education]) as subgroup_level
            from {pm.relation(dbt.ref("int_respondents"))} as r
            inner join {pm.relation(dbt.ref("int_respondent_weights"))} as w
                using (instrument, school_year, term, respondent_key)
            inner join {pm.relation(dbt.ref("int_school_weight_scales"))} as k
                using (instrument, school_year, term, school_id)
            where r.sample = 'national' and {changed}
        )
        select *, dense_rank() over (order by instrument, school_year, term, school_id, subgroup_variable,
            subgroup_level) - 1 as cell_id
        from respondents
        where subgroup_level is not null"""


def top_box(responses: np.ndarray, top_box_min: np.ndarray) -> np.ndarray:
    """Each answer as 1 (at or above its item's top_box_min) or 0; a skip stays SKIPPED."""
    return np.where(responses == SKIPPED, SKIPPED, responses >= top_box_min[None, :]).astype(np.int8)


def sum_blocks(cells, responses, w, items):
    """The sums of top box or not."""
    return category_sum_blocks(cells, top_box(responses, np.array([i["top_box_min"] for i in items])), w)


def model(dbt, session):
    dbt.config(materialized="incremental", incremental_strategy="append", on_schema_change="fail")
    session.execute(f"create or replace temp table _respondents as {respondents_sql(dbt)}")
    pm.store_weighted_sums(session, dbt.ref("int_item_numbers"), dbt.ref("items"), {
        "teacher": dbt.ref("stg_lake__teacher_submissions"), "student": dbt.ref("stg_lake__student_submissions")},
        sum_blocks)
    return session.sql(f"""
        with cells as (
            select distinct cell_id, instrument, school_year, term, school_id, subgroup_variable,
                subgroup_level, w_scale
            from _respondents
        )
        select c.instrument, c.school_year, c.term, i.item_id, c.school_id, c.subgroup_variable,
            c.subgroup_level, cast(nullif(s.category, -1) as integer) as category, s.n, c.w_scale, s.w_sum,
            s.w2_sum
        from _sums as s
        inner join cells as c using (cell_id)
        inner join {pm.relation(dbt.ref("int_item_numbers"))} as i using (item_no)""")
