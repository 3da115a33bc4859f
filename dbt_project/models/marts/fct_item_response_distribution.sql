-- depends_on: {{ ref('int_school_item_shares') }}
-- ^ not read here: an order for dbt, which starts the models that are ready by graph depth, then by name,
-- so this one (10 s at a million submissions) went before int_school_item_shares, which heads the longest
-- chain of the build, and held it back (dbt-core #10632; BENCHMARKS.md, "Shorter waits").
-- Grain: one row per instrument x school year x term x item x grade band x sample x response category.
-- Weighted percent of respondents (among those who answered the item) with its standard error
-- (schools as PSUs), unweighted n and Kish effective n. Cells with fewer than var('min_cell_n')
-- respondents are suppressed: counts kept, estimates null, is_suppressed true.
with shares as (
    {{ weighted_category_shares(ref('int_school_item_sums'),
        ['instrument', 'school_year', 'term', 'item_id', 'grade_band', 'sample'], summed=true, school_rows=true) }}
),

labels as (
    select items.instrument, items.item_id, scales.category, scales.label as category_label
    from {{ ref('items') }} as items
    inner join {{ ref('response_scales') }} as scales using (response_scale)
),

final as (
    select
        shares.instrument,
        shares.school_year,
        shares.term,
        shares.item_id,
        shares.grade_band,
        shares.sample,
        shares.category,
        labels.category_label,
        shares.n_respondents,
        shares.n_schools,
        shares.n_respondents < {{ var('min_cell_n') }} as is_suppressed,
        case when shares.n_respondents >= {{ var('min_cell_n') }} then shares.n_in_category end as n_in_category,
        case when shares.n_respondents >= {{ var('min_cell_n') }} then 100 * shares.p end as weighted_pct,
        case when shares.n_respondents >= {{ var('min_cell_n') }} then 100 * shares.se_p end as weighted_pct_se,
        case when shares.n_respondents >= {{ var('min_cell_n') }} then shares.kish_effective_n end as kish_effective_n
    from shares
    inner join labels using (instrument, item_id, category)
)

select * from final
