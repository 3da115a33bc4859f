"""Grain: one row per instrument x school year x term x item x school x subgroup variable x level x top
box (1 at or above the item's top_box_min, 0 below, null skipped), national sample only (the sample whose
weights represent the population), respondents without a level left out. The sums
int_top_box_by_subgroup estimates from (macros/weighted_proportion.sql, summed=true): n, and the sums of
w / k and (w / k)^2 with k the school's mean weight, as in int_school_item_sums (and counted as there:
from the wide rows, a respondent's row once per subgroup variable, weights.cell_sums). Incremental by
school year x term.
"""

import numpy as np
import pyarrow as pa

from dbt_project import pymodels as pm
from weights.cell_sums import SKIPPED, category_sum_blocks

KEYS = ("school_year", "term", "school_id", "subgroup_variable", "subgroup_level")  # a cell, within an instrument
SCHEMA = pa.schema([("instrument", pa.string()), ("school_year", pa.string()), ("term", pa.string()),
                    ("item_id", pa.string()), ("school_id", pa.string()), ("subgroup_variable", pa.string()),
                    ("subgroup_level", pa.string()), ("category", pa.int32()), ("n", pa.int64()),
                    ("w_scale", pa.float64()), ("w_sum", pa.float64()), ("w2_sum", pa.float64())])


def levels_sql(dbt, instrument: str, columns: str, joins: str = "") -> str:
    """Per counted national submission of the instrument in the changed partitions and subgroup variable
    with a level (int_respondents as r, and ``joins``): ``columns``, the variable and the level."""
    changed = pm.partition_condition(dbt.config.get("changed_partitions"), dbt.is_incremental, "r.school_year", "r.term")
    return f"""
        select * from (
            select {columns}, unnest(['race_ethnicity', 'parent_education']) as subgroup_variable,
                unnest([r.race_ethnicity, r.parent_education]) as subgroup_level
            from {pm.relation(dbt.ref("int_respondents"))} as r {joins}
            where r.instrument = {pm.sql_literal(instrument)} and r.sample = 'national' and {changed}
        )
        where subgroup_level is not null"""


def respondents_sql(dbt, instrument: str) -> str:
    """The rows: a submission's cell keys, the school's weight scale k and w / k."""
    return levels_sql(dbt, instrument, "r.submission_id, r.school_year, r.term, r.school_id, k.w_scale, "
                      "w.analysis_weight / k.w_scale as w", f"""
            inner join {pm.relation(dbt.ref("int_respondent_weights"))} as w
                using (instrument, school_year, term, respondent_key)
            inner join {pm.relation(dbt.ref("int_school_weight_scales"))} as k
                using (instrument, school_year, term, school_id)""")


def recode_top_box(responses: np.ndarray, top_box_min: list[int]) -> None:
    """Each answer, in place, as 1 (at or above its item's top_box_min) or 0; a skip stays SKIPPED. An
    item at a time: no copy of the matrix (ten million submissions: 0.2 GB)."""
    for j, lowest in enumerate(top_box_min):
        answers = responses[:, j]
        answered = answers != SKIPPED
        answers[answered] = answers[answered] >= lowest


def model(dbt, session):
    dbt.config(materialized="incremental", incremental_strategy="append", on_schema_change="fail")
    pm.finish_pending(session)
    # named, not iterated in place: dbt finds a Python model's refs among the calls' arguments and the
    # assignments, not in a dict whose .items() is called
    submissions = {"teacher": dbt.ref("stg_lake__teacher_submissions"), "student": dbt.ref("stg_lake__student_submissions")}
    changed = pm.partition_condition(dbt.config.get("changed_partitions"), dbt.is_incremental)

    def batches_of(instrument: str, staged):
        items = pm.item_numbers(session, dbt.ref("int_item_numbers"), dbt.ref("items"), instrument)
        rows = pm.cell_rows(session, respondents_sql(dbt, instrument), staged, [i["item_id"] for i in items], KEYS,
                            values=("w",), attributes=("w_scale",),
                            cells=levels_sql(dbt, instrument, "r.school_year, r.term, r.school_id"))
        recode_top_box(rows.responses, [i["top_box_min"] for i in items])
        return pm.weighted_sum_batches(SCHEMA, instrument, rows, [i["item_id"] for i in items],
                                       category_sum_blocks(rows.cell, rows.responses, rows.values["w"]))

    # a read's rows: at most one per respondent and subgroup variable
    rows = 2 * pm.largest_instrument(session, dbt.ref("int_respondents"), changed)
    return pm.sums_stream(session, SCHEMA, dbt.this.identifier, submissions, batches_of, rows)
