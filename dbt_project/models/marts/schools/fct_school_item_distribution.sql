-- Grain: one row per school x instrument x school year x term x item x response category.
-- The school's weighted response distribution (percent of those who answered the item) with its SE
-- (respondents as units, int_school_item_shares), the category label and the n behind it. Hidden cells
-- (suppression_reason: fewer_than_min_n, or complementary — see int_school_item_disclosure) keep
-- their n and lose every estimate and count in a category.
with shares as (
    select * from {{ ref('int_school_item_shares') }} where not is_top_box
),

labels as (
    select items.instrument, items.item_id, scales.category, scales.label as category_label
    from {{ ref('items') }} as items
    inner join {{ ref('response_scales') }} as scales using (response_scale)
)

select
    s.school_id,
    s.instrument,
    s.school_year,
    s.term,
    s.item_id,
    s.category,
    l.category_label,
    s.n_respondents,
    d.is_suppressed,
    d.suppression_reason,
    case when not d.is_suppressed then s.n_in_category end as n_in_category,
    case when not d.is_suppressed then 100 * s.p end as weighted_pct,
    case when not d.is_suppressed then 100 * s.se_p end as weighted_pct_se
from shares as s
inner join {{ ref('int_school_item_disclosure') }} as d
    using (school_id, instrument, school_year, term, item_id)
inner join labels as l using (instrument, item_id, category)
