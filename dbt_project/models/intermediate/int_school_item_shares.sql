{{ config(materialized='incremental', incremental_strategy='append', on_schema_change='fail',
          pre_hook="{{ delete_changed_partitions() }}") }}
-- Incremental by school year x term (macros/partitions.sql): a build passed var('partitions') rebuilds
-- those partitions only.
-- Grain: one row per school x instrument x school year x term x item x category (unsuppressed; the
-- marts suppress). A school's weighted response distribution among those who answered the item, with
-- respondents as the units of its SE (the school is one cluster: within it, respondents are the
-- sample): the shared estimator (macros/weighted_proportion.sql) with the respondent as its "PSU",
--     var(p) = n / (n - 1) * sum_i (w_i (y_i - p) / sum w)^2
-- (equal weights: p (1 - p) / (n - 1)), from the respondents' sums (int_school_item_sums). top_box
-- rows (category -1 marks them) give the share at or above the item's top_box_min.
with responses as not materialized (  -- read twice: see macros/weighted_proportion.sql
    select * exclude (school_id), school_id as reporting_school_id
    from {{ ref('int_school_item_sums') }}
    where {{ in_changed_partitions() }}
),

top_box as (
    select r.* exclude (category),
        case when r.category is not null then (r.category >= items.top_box_min)::int end as category
    from responses as r
    inner join {{ ref('items') }} as items using (instrument, item_id)
),

distribution as (
    {{ weighted_category_shares('responses',
        ['instrument', 'school_year', 'term', 'item_id', 'reporting_school_id'], one_respondent_per_psu=true,
        summed=true) }}
),

top_box_share as (
    {{ weighted_category_shares('top_box',
        ['instrument', 'school_year', 'term', 'item_id', 'reporting_school_id'], binary=true,
        one_respondent_per_psu=true, summed=true) }}
),

unioned as (
    select *, false as is_top_box from distribution
    union all
    select * replace (-1 as category), true as is_top_box from top_box_share where category = 1
)

select
    reporting_school_id as school_id,
    instrument, school_year, term, item_id, category, is_top_box,
    n_respondents,
    n_in_category,
    p,
    n_schools as n_units,
    se_p
from unioned
