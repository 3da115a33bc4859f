-- Grain: one row per school x instrument x school year x term x scaled component x subgroup variable
-- (grade, gender, race_ethnicity, parent_education) x reported group. Students only (the instrument
-- whose events carry demographics). Weighted mean scaled score, SE (respondents as units, as
-- int_school_scale_means) and 95 % CI, and the difference from the school's mean.
-- Small groups are pooled, never dropped (YouthTruth / PERTS): a group with fewer than
-- var('min_cell_n') scored respondents is reported inside 'other_groups'; respondents without the
-- field are 'not_reported'. A reported group still under the minimum (other_groups, not_reported) is
-- hidden, and the school total is the parent of the groups, so complementary suppression hides the
-- next smallest group when a lone small one would follow by subtraction. The groups partition the
-- school, so where the school's own cell is hidden (fct_school_scale_scores) every group is hidden too
-- (suppression_reason 'school_hidden'): their weighted mean would give it back.
{%- set key = ['school_id', 'instrument', 'school_year', 'term', 'component'] %}
-- The groups' sums: int_school_subgroup_score_sums (a model of its own, built beside the school means).
with cells as (
    select *, n_respondents < {{ var('min_cell_n') }} as is_primary_suppressed
    from {{ ref('int_school_subgroup_score_sums') }}
),

checked as (
    {{ complementary_suppression('cells', key + ['subgroup_variable'], 'reported_group') }}
),

final as (
    select c.*, coalesce(t.is_suppressed, true) as is_school_hidden,
        c.is_primary_suppressed or c.is_complementary_suppressed or coalesce(t.is_suppressed, true) as hidden,
        case when c.n_respondents > 1
            then sqrt(c.n_respondents / (c.n_respondents - 1.0) * c.sum_z2) / c.sum_w end as se,
        case when c.n_respondents > 1 then t_critical(c.n_respondents - 1, 0.05) end as t_crit,
        m.mean_scaled as school_mean
    from checked as c
    left join {{ ref('int_school_scale_means') }} as m using ({{ key | join(', ') }})
    left join {{ ref('fct_school_scale_scores') }} as t using ({{ key | join(', ') }})
)

select
    school_id, instrument, school_year, term, component, subgroup_variable, reported_group,
    n_groups_pooled,
    n_respondents,
    hidden as is_suppressed,
    case when is_school_hidden then 'school_hidden' else {{ suppression_reason() }} end as suppression_reason,
    case when not hidden then mean_scaled end as mean_scaled_score,
    case when not hidden then se end as mean_scaled_score_se,
    case when not hidden then mean_scaled - t_crit * se end as mean_scaled_score_ci_low,
    case when not hidden then mean_scaled + t_crit * se end as mean_scaled_score_ci_high,
    case when not hidden then mean_scaled - school_mean end as difference_from_school
from final
