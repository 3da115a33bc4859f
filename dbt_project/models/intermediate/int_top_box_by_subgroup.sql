-- Grain: one row per instrument x school year x term x item x subgroup variable x subgroup level,
-- national sample only (the sample whose weights represent the population): weighted top-box share
-- and its standard error (schools as PSUs). Feeds the subgroup comparisons.
with by_subgroup as (
    select * from {{ ref('int_school_subgroup_sums') }}
),

shares as (
    {{ weighted_category_shares('by_subgroup',
        ['instrument', 'school_year', 'term', 'item_id', 'subgroup_variable', 'subgroup_level'], binary=true,
        summed=true, school_rows=true) }}
)

select * from shares where category = 1
