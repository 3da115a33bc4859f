-- Grain: one row per instrument x school year x term x item x comparison x grade band
-- (grade band 'all' for subgroup comparisons). Compares top-box shares of two independent groups:
--   difference = pct_a - pct_b;  se = sqrt(se_a^2 + se_b^2);  significant when |difference| > 1.96 se.
-- Comparisons: each non-national sample against the national sample (by grade band), and every pair of
-- levels of a student subgroup variable within the national sample. Suppressed when either group is
-- under var('min_cell_n') respondents or has no standard error (a single school).
with samples as (
    select * from {{ ref('fct_item_top_box_shares') }}
),

sample_pairs as (
    select
        a.instrument, a.school_year, a.term, a.item_id, a.grade_band,
        'sample' as comparison_variable, a.sample as group_a, b.sample as group_b,
        a.n_respondents as n_a, b.n_respondents as n_b,
        a.top_box_pct as pct_a, b.top_box_pct as pct_b,
        a.top_box_pct_se as se_a, b.top_box_pct_se as se_b
    from samples as a
    inner join samples as b
        on a.instrument = b.instrument and a.school_year = b.school_year and a.term = b.term
        and a.item_id = b.item_id and a.grade_band = b.grade_band
    where b.sample = 'national' and a.sample <> 'national'
),

subgroups as (
    select
        instrument, school_year, term, item_id, subgroup_variable, subgroup_level, n_respondents,
        case when n_respondents >= {{ var('min_cell_n') }} then 100 * p end as pct,
        case when n_respondents >= {{ var('min_cell_n') }} then 100 * se_p end as se
    from {{ ref('int_top_box_by_subgroup') }}
),

subgroup_pairs as (
    select
        a.instrument, a.school_year, a.term, a.item_id, 'all' as grade_band,
        a.subgroup_variable as comparison_variable, a.subgroup_level as group_a, b.subgroup_level as group_b,
        a.n_respondents as n_a, b.n_respondents as n_b, a.pct as pct_a, b.pct as pct_b, a.se as se_a, b.se as se_b
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

final as (
    select
        *,
        pct_a is null or pct_b is null or se_a is null or se_b is null as is_suppressed,
        pct_a - pct_b as difference_pct,
        sqrt(power(se_a, 2) + power(se_b, 2)) as difference_se,
        abs(pct_a - pct_b) > 1.96 * sqrt(power(se_a, 2) + power(se_b, 2)) as is_significant_95
    from pairs
)

select
    * exclude (pct_a, pct_b, se_a, se_b, difference_pct, difference_se, is_significant_95),
    case when not is_suppressed then pct_a end as pct_a,
    case when not is_suppressed then pct_b end as pct_b,
    case when not is_suppressed then difference_pct end as difference_pct,
    case when not is_suppressed then difference_se end as difference_se,
    case when not is_suppressed then is_significant_95 end as is_significant_95
from final
