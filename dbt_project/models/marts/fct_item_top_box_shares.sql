-- Grain: one row per instrument x school year x term x item x grade band x sample.
-- The national scan's "at least half the time"-style share: weighted percent of respondents answering
-- at or above the item's top_box_min category, with its standard error (schools as PSUs).
with top_box_responses as (
    select
        r.* exclude (category),
        (r.category >= items.top_box_min)::int as category
    from {{ ref('int_school_item_sums') }} as r
    inner join {{ ref('items') }} as items using (instrument, item_id)
),

shares as (
    {{ weighted_category_shares('top_box_responses',
        ['instrument', 'school_year', 'term', 'item_id', 'grade_band', 'sample'], binary=true,
        summed=true) }}
)

select
    instrument,
    school_year,
    term,
    item_id,
    grade_band,
    sample,
    n_respondents,
    n_schools,
    n_respondents < {{ var('min_cell_n') }} as is_suppressed,
    case when n_respondents >= {{ var('min_cell_n') }} then 100 * p end as top_box_pct,
    case when n_respondents >= {{ var('min_cell_n') }} then 100 * se_p end as top_box_pct_se,
    case when n_respondents >= {{ var('min_cell_n') }} then kish_effective_n end as kish_effective_n
from shares
where category = 1
