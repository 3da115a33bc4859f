-- Grain: one row per instrument x school year x term x item x comparison x grade band
-- (grade band 'all' for subgroup comparisons). Compares top-box shares of two groups:
--   difference = pct_a - pct_b;  se = sqrt(se_a^2 + se_b^2);  t = difference / se;
--   df = the design degrees of freedom (schools are the primary sampling units, leap/inference.py):
--        samples (independent groups of schools): n_schools_a + n_schools_b - 2;
--        subgroups of one sample (students of the same schools): min(n_schools_a, n_schools_b) - 1;
--   p_value = P(|T_df| >= |t|);  q_value = Benjamini-Hochberg over the family of one comparison
--   (instrument x year x term x comparison variable x pair: every item and grade band of it);
--   is_significant_95 when p < 0.05 (the per-test rate), is_significant_fdr when q < 0.05.
-- The test itself (status, t, p, q): macros/group_comparison.sql, shared with fct_group_scale_comparisons.
-- Comparisons: each non-national sample against the national sample (by grade band), and every pair of
-- levels of a student subgroup variable within the national sample. comparison_status says what is
-- shown: 'compared'; 'suppressed' when either group is under var('min_cell_n') respondents or has no
-- standard error; 'too_few_schools' when either has fewer than var('min_schools_per_group') schools.
with samples as (
    select * from {{ ref('fct_item_top_box_shares') }}
),

sample_pairs as (
    select
        a.instrument, a.school_year, a.term, a.item_id, a.grade_band,
        'sample' as comparison_variable, a.sample as group_a, b.sample as group_b,
        a.n_respondents as n_a, b.n_respondents as n_b, a.n_schools as n_schools_a, b.n_schools as n_schools_b,
        a.n_schools + b.n_schools - 2 as df,
        a.top_box_pct as est_a, b.top_box_pct as est_b,
        a.top_box_pct_se as se_a, b.top_box_pct_se as se_b
    from samples as a
    inner join samples as b
        on a.instrument = b.instrument and a.school_year = b.school_year and a.term = b.term
        and a.item_id = b.item_id and a.grade_band = b.grade_band
    where b.sample = 'national' and a.sample <> 'national'
),

subgroups as (
    select
        instrument, school_year, term, item_id, subgroup_variable, subgroup_level, n_respondents, n_schools,
        case when n_respondents >= {{ var('min_cell_n') }} then 100 * p end as pct,
        case when n_respondents >= {{ var('min_cell_n') }} then 100 * se_p end as se
    from {{ ref('int_top_box_by_subgroup') }}
),

subgroup_pairs as (
    select
        a.instrument, a.school_year, a.term, a.item_id, 'all' as grade_band,
        a.subgroup_variable as comparison_variable, a.subgroup_level as group_a, b.subgroup_level as group_b,
        a.n_respondents as n_a, b.n_respondents as n_b, a.n_schools as n_schools_a, b.n_schools as n_schools_b,
        least(a.n_schools, b.n_schools) - 1 as df,
        a.pct as est_a, b.pct as est_b, a.se as se_a, b.se as se_b
    from subgroups as a
    inner join subgroups as b
        on a.instrument = b.instrument and a.school_year = b.school_year and a.term = b.term
        and a.item_id = b.item_id and a.subgroup_variable = b.subgroup_variable
        and a.subgroup_level < b.subgroup_level
),

pairs as (
    select * from sample_pairs
    union all
    select * from subgroup_pairs
),

{{ group_comparison('pairs', ['instrument', 'school_year', 'term', 'comparison_variable', 'group_a', 'group_b'],
                    ['item_id', 'grade_band']) }}

select
    instrument, school_year, term, item_id, grade_band, comparison_variable, group_a, group_b,
    n_a, n_b, n_schools_a, n_schools_b,
    comparison_status,
    comparison_status = 'suppressed' as is_suppressed,
    case when comparison_status <> 'suppressed' then est_a end as pct_a,
    case when comparison_status <> 'suppressed' then est_b end as pct_b,
    case when comparison_status = 'compared' then difference end as difference_pct,
    case when comparison_status = 'compared' then difference_se end as difference_se,
    case when comparison_status = 'compared' then df end as df,
    p_value,
    q_value,
    case when comparison_status = 'compared' then p_value < 0.05 end as is_significant_95,
    case when comparison_status = 'compared' then q_value < 0.05 end as is_significant_fdr
from with_q
