-- Grain: one row per school x instrument x school year x term x scaled component.
-- Weighted mean scaled score, its SE and 95 % CI (t on n - 1), n, weighted share in each
-- personalization level and the school level; the reliability of the school's measures and the
-- accuracy and consistency of their levels; beside it the school's network (its sample x grade band,
-- fct_group_scale_means) and the current frozen national benchmark (fct_national_benchmarks).
-- Hidden cells keep their counts and lose every estimate: fewer than var('min_cell_n') scored
-- respondents, or complementary (the school's cells are the children of its sample x grade band cell
-- in fct_score_level_distribution and fct_group_scale_means; macros/complementary_suppression.sql).
with cells as (
    select m.*, g.sample, g.grade_band, m.n_respondents < {{ var('min_cell_n') }} as is_primary_suppressed
    from {{ ref('int_school_scale_means') }} as m
    inner join {{ ref('int_school_groups') }} as g using (school_id, instrument, school_year, term)
),

checked as (
    {{ complementary_suppression('cells',
        ['instrument', 'school_year', 'term', 'component', 'sample', 'grade_band'], 'school_id') }}
),

benchmark as (
    select benchmark_version, instrument, term, grade_band, measure_id as component,
        value as national_mean, se as national_mean_se
    from {{ ref('int_national_scale_benchmarks') }}
    where is_current and measure = 'scale_mean' and not is_suppressed
),

flagged as (
    select c.*, c.is_primary_suppressed or c.is_complementary_suppressed as hidden,
        {{ suppression_reason('c.is_primary_suppressed', 'c.is_complementary_suppressed') }} as reason,
        case when c.n_respondents > 1 then t_critical(c.n_respondents - 1, 0.05) end as t_crit,
        net.mean_scaled_score as network_mean, b.benchmark_version, b.national_mean, b.national_mean_se
    from checked as c
    left join {{ ref('fct_group_scale_means') }} as net using (instrument, school_year, term, component,
        sample, grade_band)
    left join benchmark as b using (instrument, term, grade_band, component)
)

select
    school_id,
    instrument,
    school_year,
    term,
    component,
    calibration_id,
    sample,
    grade_band,
    n_respondents,
    n_not_scored,
    hidden as is_suppressed,
    reason as suppression_reason,
    case when not hidden then mean_scaled end as mean_scaled_score,
    case when not hidden then se_scaled end as mean_scaled_score_se,
    case when not hidden then mean_scaled - t_crit * se_scaled end as mean_scaled_score_ci_low,
    case when not hidden then mean_scaled + t_crit * se_scaled end as mean_scaled_score_ci_high,
    case when not hidden then 100 * coalesce(share_emerging, 0) end as pct_emerging,
    case when not hidden then 100 * coalesce(share_moderate_low, 0) end as pct_moderate_low,
    case when not hidden then 100 * coalesce(share_moderate_high, 0) end as pct_moderate_high,
    case when not hidden then 100 * coalesce(share_high, 0) end as pct_high,
    case when not hidden then school_level end as school_level,
    case when not hidden then reliability end as reliability,
    case when not hidden then classification_accuracy end as classification_accuracy,
    case when not hidden then classification_consistency end as classification_consistency,
    case when not hidden then n_misfitting end as n_misfitting,
    network_mean as network_mean_scaled_score,
    benchmark_version,
    national_mean as national_mean_scaled_score,
    national_mean_se as national_mean_scaled_score_se
from flagged
