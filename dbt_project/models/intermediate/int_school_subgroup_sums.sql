{{ config(materialized='incremental', incremental_strategy='append', on_schema_change='fail',
          pre_hook="{{ delete_changed_partitions() }}") }}
-- Incremental by school year x term (macros/partitions.sql): a build passed var('partitions') rebuilds
-- those partitions only.
-- Grain: one row per instrument x school year x term x item x school x subgroup variable x level x
-- top box (1 at or above the item's top_box_min, 0 below, null skipped), national sample only (the
-- sample whose weights represent the population), respondents without a level left out. The sums
-- int_top_box_by_subgroup estimates from (macros/weighted_proportion.sql, summed=true): n, and the
-- sums of w / k and (w / k)^2 with k the school's mean weight, on narrow keys, as in int_school_item_sums.
with respondents as (  -- per counted national submission and subgroup variable: its cell's key, w / k
    select r.submission_id, r.instrument, r.school_year, r.term, r.school_id, k.w_scale,
        w.analysis_weight / k.w_scale as w,
        unnest(['race_ethnicity', 'parent_education']) as subgroup_variable,
        unnest([r.race_ethnicity, r.parent_education]) as subgroup_level
    from {{ ref('int_respondents') }} as r
    inner join {{ ref('int_respondent_weights') }} as w using (instrument, school_year, term, respondent_key)
    inner join {{ ref('int_school_weight_scales') }} as k using (instrument, school_year, term, school_id)
    where r.sample = 'national' and {{ in_changed_partitions('r.school_year', 'r.term') }}
),

keyed as (  -- w split once per respondent for the exact sums below (macros/exact_sum.sql)
    select *, dense_rank() over (order by instrument, school_year, term, school_id, subgroup_variable,
        subgroup_level) as cell_id, {{ exact_split('w', 'w') }}, {{ exact_split('w * w', 'w2') }}
    from respondents
    where subgroup_level is not null
),

cells as (
    select distinct cell_id, instrument, school_year, term, school_id, subgroup_variable, subgroup_level, w_scale
    from keyed
),

item_top_box as (  -- per item number: its top box's lowest category
    select i.item_no, items.top_box_min
    from {{ ref('int_item_numbers') }} as i
    inner join {{ ref('items') }} as items using (instrument, item_id)
),

sums as (  -- the response rows summed on narrow keys: a cell number, the item's number, top box or not
    select k.cell_id, u.item_no, (u.category >= items.top_box_min)::int as category,
        count(*) as n, {{ exact_sum_split('k.w') }} as w_sum, {{ exact_sum_split('k.w2') }} as w2_sum
    from {{ ref('int_responses_unpivoted') }} as u
    inner join keyed as k using (submission_id)
    inner join item_top_box as items using (item_no)
    group by all
)

select c.instrument, c.school_year, c.term, i.item_id, c.school_id, c.subgroup_variable, c.subgroup_level,
    s.category, s.n, c.w_scale, s.w_sum, s.w2_sum
from sums as s
inner join cells as c using (cell_id)
inner join {{ ref('int_item_numbers') }} as i using (item_no)
