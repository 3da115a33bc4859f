-- Grain: one row per benchmark version x instrument x term x grade band x item: the item_top_box rows of
-- fct_national_benchmarks (the national sample's top-box percent of the version's reference year).
with items as (
    select instrument, school_year, term, grade_band, 'item_top_box' as measure, item_id as measure_id,
        top_box_pct as value, top_box_pct_se as se, n_respondents, n_schools, is_suppressed
    from {{ ref('fct_item_top_box_shares') }}
    where sample = 'national'
),

{{ national_benchmark_rows('items') }}
