-- Grain: one row per instrument x school year x term x item x subgroup variable x subgroup level,
-- national sample only (the sample whose weights represent the population): weighted top-box share
-- and its standard error (schools as PSUs). Feeds the subgroup comparisons.
with responses as (
    select r.*, (r.category >= items.top_box_min)::int as is_top_box
    from {{ ref('int_responses_weighted') }} as r
    inner join {{ ref('items') }} as items using (instrument, item_id)
    where r.sample = 'national'
),

by_subgroup as (
    select * exclude (category, is_top_box), is_top_box as category, 'race_ethnicity' as subgroup_variable,
        race_ethnicity as subgroup_level
    from responses where race_ethnicity is not null
    union all
    select * exclude (category, is_top_box), is_top_box as category, 'parent_education' as subgroup_variable,
        parent_education as subgroup_level
    from responses where parent_education is not null
),

shares as (
    {{ weighted_category_shares('by_subgroup',
        ['instrument', 'school_year', 'term', 'item_id', 'subgroup_variable', 'subgroup_level'], binary=true) }}
)

select * from shares where category = 1
