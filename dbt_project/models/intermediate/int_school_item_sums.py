"""Grain: one row per instrument x school year x term x item x school x grade band x sample x category
chosen (null: skipped). The respondent x item responses summed once, for every estimate that reads them
(macros/weighted_proportion.sql with summed=true: the school's own distribution, the national
distribution and top-box shares): n respondents, and the sums of w / k and (w / k)^2 where k (w_scale,
int_school_weight_scales) is the school's mean analysis weight on the instrument that term. Dividing by k
first keeps the squares of tiny weights (1e-200) from underflowing; the estimator multiplies by
k / (its cell's mean weight) again, so every estimate is that of the rows.

Counted from the wide rows, a respondent's answers in one row (weights.cell_sums: a bin per cell x item x
category, np.bincount), not from a long form of every response: an instrument's rows sorted by cell and
submission id (dbt_project.pymodels.cell_rows: the same bits in every build), the sums streamed into the
table a block of cells at a time (pymodels.stream). Incremental by school year x term
(dbt_project.pymodels.partition_condition).
"""

import pyarrow as pa

from dbt_project import pymodels as pm
from weights.cell_sums import category_sum_blocks

KEYS = ("school_year", "term", "school_id", "grade_band", "sample")  # a cell, within an instrument
SCHEMA = pa.schema([("instrument", pa.string()), ("school_year", pa.string()), ("term", pa.string()),
                    ("item_id", pa.string()), ("school_id", pa.string()), ("grade_band", pa.string()),
                    ("sample", pa.string()), ("category", pa.int8()), ("n", pa.int64()),
                    ("w_scale", pa.float64()), ("w_sum", pa.float64()), ("w2_sum", pa.float64())])


def cells_sql(dbt, instrument: str) -> str:
    """The instrument's cells in the changed partitions (from int_respondents alone)."""
    changed = pm.partition_condition(dbt.config.get("changed_partitions"), dbt.is_incremental)
    return f"""
        select {", ".join(KEYS)} from {pm.relation(dbt.ref("int_respondents"))}
        where instrument = {pm.sql_literal(instrument)} and {changed}"""


def respondents_sql(dbt, instrument: str) -> str:
    """Per counted submission of the instrument in the changed partitions: its cell's keys, the school's
    weight scale k and w / k."""
    changed = pm.partition_condition(dbt.config.get("changed_partitions"), dbt.is_incremental, "r.school_year", "r.term")
    return f"""
        select r.submission_id, r.school_year, r.term, r.school_id, r.grade_band, r.sample, k.w_scale,
            w.analysis_weight / k.w_scale as w
        from {pm.relation(dbt.ref("int_respondents"))} as r
        inner join {pm.relation(dbt.ref("int_respondent_weights"))} as w
            using (instrument, school_year, term, respondent_key)
        inner join {pm.relation(dbt.ref("int_school_weight_scales"))} as k
            using (instrument, school_year, term, school_id)
        where r.instrument = {pm.sql_literal(instrument)} and {changed}"""


def model(dbt, session):
    dbt.config(materialized="incremental", incremental_strategy="append", on_schema_change="fail")
    pm.finish_pending(session)
    # named, not iterated in place: dbt finds a Python model's refs among the calls' arguments and the
    # assignments, not in a dict whose .items() is called
    submissions = {"teacher": dbt.ref("stg_lake__teacher_submissions"), "student": dbt.ref("stg_lake__student_submissions")}
    changed = pm.partition_condition(dbt.config.get("changed_partitions"), dbt.is_incremental)

    def batches_of(instrument: str, staged):
        item_ids = [i["item_id"] for i in pm.item_numbers(session, dbt.ref("int_item_numbers"), dbt.ref("items"), instrument)]
        rows = pm.cell_rows(session, respondents_sql(dbt, instrument), staged, item_ids, KEYS, values=("w",),
                            attributes=("w_scale",), cells=cells_sql(dbt, instrument))
        return pm.weighted_sum_batches(SCHEMA, instrument, rows, item_ids,
                                       category_sum_blocks(rows.cell, rows.responses, rows.values["w"]))

    rows = pm.largest_instrument(session, dbt.ref("int_respondents"), changed)  # a read's rows: one per respondent
    return pm.sums_stream(session, SCHEMA, dbt.this.identifier, submissions, batches_of, rows)
