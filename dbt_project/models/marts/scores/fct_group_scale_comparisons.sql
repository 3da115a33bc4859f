-- Grain: one row per instrument x school year x term x scaled component x grade band (each, and 'all')
-- x sample other than the national one. Compares a sample's weighted mean scaled score with the
-- national sample's (fct_group_scale_means, schools as primary sampling units):
--   difference = mean_a - mean_national (scaled points);  se = sqrt(se_a^2 + se_national^2): the two
--   are independent samples of schools;  df = n_schools_a + n_schools_national - 2 (as for the item
--   comparisons of two samples, fct_group_comparisons);  p = P(|T_df| >= |difference / se|);
--   q = Benjamini-Hochberg over the family of one comparison (instrument x year x term x sample: every
--   scale and grade band of it); 95% CI = difference +- t(0.975, df) se.
-- comparison_status and the test: macros/group_comparison.sql ('compared', 'suppressed' when either
-- mean is suppressed, 'too_few_schools' under var('min_schools_per_group') schools in either group).
with means as (
    select * from {{ ref('fct_group_scale_means') }}
),

pairs as (
    select
        a.instrument, a.school_year, a.term, a.component, a.grade_band, a.sample, b.sample as reference_sample,
        a.n_respondents as n_a, b.n_respondents as n_b, a.n_schools as n_schools_a, b.n_schools as n_schools_b,
        a.n_schools + b.n_schools - 2 as df,
        a.mean_scaled_score as est_a, b.mean_scaled_score as est_b,
        a.mean_scaled_score_se as se_a, b.mean_scaled_score_se as se_b
    from means as a
    inner join means as b
        on a.instrument = b.instrument and a.school_year = b.school_year and a.term = b.term
        and a.component = b.component and a.grade_band = b.grade_band
    where b.sample = 'national' and a.sample <> 'national'
),

{{ group_comparison('pairs', ['instrument', 'school_year', 'term', 'sample'], ['component', 'grade_band']) }}

select
    instrument, school_year, term, component, grade_band, sample, reference_sample,
    n_a as n_respondents, n_b as n_respondents_reference, n_schools_a as n_schools,
    n_schools_b as n_schools_reference,
    comparison_status,
    comparison_status = 'suppressed' as is_suppressed,
    case when comparison_status <> 'suppressed' then est_a end as mean_scaled_score,
    case when comparison_status <> 'suppressed' then est_b end as mean_scaled_score_reference,
    case when comparison_status = 'compared' then difference end as difference,
    case when comparison_status = 'compared' then difference_se end as difference_se,
    case when comparison_status = 'compared' then df end as df,
    case when comparison_status = 'compared' then difference - t_critical(df, 0.05) * difference_se end as ci_low,
    case when comparison_status = 'compared' then difference + t_critical(df, 0.05) * difference_se end as ci_high,
    p_value,
    q_value,
    case when comparison_status = 'compared' then p_value < 0.05 end as is_significant_95,
    case when comparison_status = 'compared' then q_value < 0.05 end as is_significant_fdr
from with_q
