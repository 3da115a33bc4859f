-- Grain: one row per benchmark version x instrument x term x grade band x scaled component: the
-- scale_mean rows of fct_national_benchmarks (the national sample's mean scaled score of the version's
-- reference year).
with scales as (
    select instrument, school_year, term, grade_band, 'scale_mean' as measure, component as measure_id,
        mean_scaled_score as value, mean_scaled_score_se as se, n_respondents, n_schools, is_suppressed
    from {{ ref('fct_group_scale_means') }}
    where sample = 'national' and grade_band <> 'all'  -- a benchmark is per grade band
),

{{ national_benchmark_rows('scales') }}
