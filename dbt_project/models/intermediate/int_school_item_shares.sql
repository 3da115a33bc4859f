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
-- rows (category -1 marks them) give the share at or above the item's top_box_min, from the same sums
-- (the estimator's top_box).
-- On numbers: a school term and an item each get one, the estimator's cells are the pair, and the text
-- keys come back at the end (the estimator would number its cells itself, but from five text keys over
-- every row, twice: 17.3 s of CPU at a million submissions against 15.7 s; 18.1 s before either).
with school_terms as (  -- a number per school x instrument x school year x term; single_row: one grade band
                       -- and sample, so its sums are one row per item and category (the estimator's single_rows)
    select row_number() over () as school_term, *
    from (select instrument, school_year, term, school_id,
              min(grade_band) = max(grade_band) and min(sample) = max(sample) as single_row
          from {{ ref('int_school_item_sums') }}
          where {{ in_changed_partitions() }}
          group by all)
),

item_keys as (  -- the item's number (int_item_numbers), its top box and response scale
    select i.item_no as item_key, i.item_id, items.top_box_min, items.response_scale
    from {{ ref('int_item_numbers') }} as i
    inner join {{ ref('items') }} as items using (instrument, item_id)
),

responses as not materialized (  -- read twice (the cells, then the rows): see macros/weighted_proportion.sql
    select t.school_term, i.item_key, t.single_row, r.grade_band, r.sample, r.category, r.n, r.w_scale, r.w_sum,
        r.w2_sum
    from {{ ref('int_school_item_sums') }} as r
    inner join school_terms as t using (instrument, school_year, term, school_id)
    inner join item_keys as i using (item_id)
),

shares as (  -- the categories and the top box (category -1) in one pass
    {{ weighted_category_shares('responses', ['school_term', 'item_key'], one_respondent_per_psu=true, summed=true,
        single_rows='single_row',
        categories="select i.item_key, s.category from item_keys as i inner join " ~ ref('response_scales')
            ~ " as s using (response_scale)", category_keys=['item_key'],
        top_box="select item_key, top_box_min from item_keys") }}
)

select
    t.school_id,
    t.instrument, t.school_year, t.term, i.item_id, u.category, u.category = -1 as is_top_box,
    u.n_respondents,
    u.n_in_category,
    u.p,
    u.n_schools as n_units,
    u.se_p
from shares as u
inner join school_terms as t using (school_term)
inner join item_keys as i using (item_key)
