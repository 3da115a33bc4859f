{{ config(materialized='incremental', incremental_strategy='append', on_schema_change='fail',
          pre_hook="{{ delete_changed_partitions() }}") }}
-- Incremental by school year x term (macros/partitions.sql): a build passed var('partitions') rebuilds
-- those partitions only.
-- Grain: one row per instrument x school year x term x item x school x subgroup variable x level x
-- top box (1 at or above the item's top_box_min, 0 below, null skipped), national sample only (the
-- sample whose weights represent the population), respondents without a level left out. The sums
-- int_top_box_by_subgroup estimates from (macros/weighted_proportion.sql, summed=true): n, and the
-- sums of w / k and (w / k)^2 with k the school's mean weight, as in int_school_item_sums.
with responses as (
    select r.instrument, r.school_year, r.term, r.item_id, r.school_id, r.race_ethnicity,
        r.parent_education, r.analysis_weight, (r.category >= items.top_box_min)::int as category
    from {{ ref('int_responses_weighted') }} as r
    inner join {{ ref('items') }} as items using (instrument, item_id)
    where r.sample = 'national' and {{ in_changed_partitions('r.school_year', 'r.term') }}
),

school_scale as (
    select * from {{ ref('int_school_weight_scales') }}
),

scaled as (
    select r.* exclude (analysis_weight), k.w_scale, r.analysis_weight / k.w_scale as w
    from responses as r
    inner join school_scale as k using (instrument, school_year, term, school_id)
),

by_subgroup as (
    select * exclude (race_ethnicity, parent_education),
        unnest(['race_ethnicity', 'parent_education']) as subgroup_variable,
        unnest([race_ethnicity, parent_education]) as subgroup_level
    from scaled
)

select
    instrument, school_year, term, item_id, school_id, subgroup_variable, subgroup_level, category,
    count(*) as n,
    any_value(w_scale) as w_scale,
    sum(w) as w_sum,
    sum(w * w) as w2_sum
from by_subgroup
where subgroup_level is not null
group by all
