{{ config(materialized='incremental', incremental_strategy='append', on_schema_change='fail',
          pre_hook="{{ delete_changed_partitions() }}") }}
-- Incremental by school year x term (macros/partitions.sql): a build passed var('partitions') rebuilds
-- those partitions only.
-- Grain: one row per instrument x school year x term x item x school x grade band x sample x category
-- chosen (null: skipped). The respondent x item rows summed once, for every estimate that reads them
-- (macros/weighted_proportion.sql with summed=true: the school's own distribution, the national
-- distribution and top-box shares): n respondents, and the sums of w / k and (w / k)^2 where k
-- (w_scale, int_school_weight_scales) is the school's mean analysis weight on the instrument that
-- term. Dividing by k first keeps the squares of tiny weights (1e-200) from underflowing; the
-- estimator multiplies by k / (its cell's mean weight) again, so every estimate is that of the rows.
with responses as (
    select * from {{ ref('int_responses_weighted') }} where {{ in_changed_partitions() }}
),

school_scale as (
    select * from {{ ref('int_school_weight_scales') }}
),

scaled as (
    select r.instrument, r.school_year, r.term, r.item_id, r.school_id, r.grade_band, r.sample, r.category,
        k.w_scale, r.analysis_weight / k.w_scale as w
    from responses as r
    inner join school_scale as k using (instrument, school_year, term, school_id)
)

select
    instrument, school_year, term, item_id, school_id, grade_band, sample, category,
    count(*) as n,
    any_value(w_scale) as w_scale,
    sum(w) as w_sum,
    sum(w * w) as w2_sum
from scaled
group by all
