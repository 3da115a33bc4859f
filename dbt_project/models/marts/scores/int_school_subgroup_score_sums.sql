{{ config(schema='intermediate', materialized='table') }}
-- Grain: one row per school x instrument x school year x term x scaled component x subgroup variable
-- (grade, gender, race_ethnicity, parent_education) x reported group (small groups pooled into
-- 'other_groups', see fct_school_subgroup_scores). Students only. Unsuppressed sums of the groups' scores:
-- persons, pooled subgroups, sum of weights, weighted mean and sum_z2 = sum w^2 (y - mean)^2 (the SE's).
-- Its own model so that it reads the score rows beside int_school_scale_means in the scores build (the
-- two are the build's largest aggregations), not after it: the mart that joins both is the only one that
-- waits for the school means.
{%- set variables = ['grade', 'gender', 'race_ethnicity', 'parent_education'] %}
{%- set key = ['school_id', 'instrument', 'school_year', 'term', 'component'] %}
{%- set narrow = ['school_term', 'component'] %}
{#- The spread of a pooled group, sum w^2 (y - m)^2 with m its weighted mean, comes from sums over its
    subgroups taken in the same pass as the means, about a fixed centre c (d = y - c):
        sum w^2 (y - m)^2 = sum w^2 d^2 - 2 (m - c) sum w^2 d + (m - c)^2 sum w^2
    exact for any c; with c the middle of the 200-300 reporting scale the terms stay the size of the
    spread (scores within a few tens of c), so the subtraction loses a few bits of 1e-16, where a second
    pass over the respondent rows (joined to their group's mean) cost half the model's time. -#}
{%- set centre = 250 %}
-- The sums are taken on a number per school x term (and the component), the text keys joined back to
-- the groups: five text keys on each of the 2.4 million score rows of a million submissions made the
-- grouping sets' input the model's largest cost (7.2 -> 6.4 s of CPU, the same rows).
with school_terms as (  -- a number per school x instrument x school year x term
    select row_number() over () as school_term, *
    from (select distinct instrument, school_year, term, school_id from {{ ref('int_respondents') }}
          where instrument = 'student')
),

-- `not materialized`: DuckDB materializes a CTE read more than once in memory, where it cannot spill (when
-- `long` read `scores` four times, a union per variable, that ran out of the 2 GB limit at ten million
-- submissions); inlined, the read streams and the aggregation spills (BENCHMARKS.md, 10 M).
scores as not materialized (
    select t.school_term, s.component, s.scaled_score, coalesce(s.analysis_weight, 1.0) as w,
        {% for v in variables %}cast(r.{{ v }} as varchar) as {{ v }}{{ "," if not loop.last }}{% endfor %}
    from {{ ref('fct_respondent_scores') }} as s
    inner join {{ ref('int_respondents') }} as r using (submission_id)
    inner join school_terms as t
        on t.instrument = s.instrument and t.school_year = s.school_year and t.term = s.term
        and t.school_id = s.school_id
    where s.is_scored and s.instrument = 'student'
),

long as (
    select {{ narrow | join(', ') }}, scaled_score, w,
        {% for v in variables %}coalesce({{ v }}, 'not_reported') as {{ v }}{{ "," if not loop.last }}{% endfor %}
    from scores
),

-- aggregate first: each subgroup's size and sums, then its reported group (small ones pooled), then the
-- groups' means and spreads from those sums; the respondent rows are met once, never sorted
numbered_subgroups as (  -- one grouping set per subgroup variable: the scores are read and joined once, not four times
    select {{ narrow | join(', ') }},
        case grouping({{ variables | join(', ') }})
            {%- for v in variables %} when {{ 2 ** (variables | length) - 1 - 2 ** (variables | length - 1 - loop.index0) }} then '{{ v }}'{% endfor %}
        end as subgroup_variable,
        coalesce({{ variables | join(', ') }}) as subgroup,
        count(*) as n, {{ exact_sum('w') }} as sum_w, {{ exact_sum('w * scaled_score') }} as sum_wy,
        {{ exact_sum('w * w') }} as sum_w2, {{ exact_sum('w * w * (scaled_score - ' ~ centre ~ ')') }} as sum_w2d,
        {{ exact_sum('power(w * (scaled_score - ' ~ centre ~ '), 2)') }} as sum_w2d2
    from long
    group by grouping sets ({% for v in variables %}({{ narrow | join(', ') }}, {{ v }}){{ ", " if not loop.last }}{% endfor %})
),

subgroups as (
    select t.school_id, t.instrument, t.school_year, t.term, g.* exclude (school_term)
    from numbered_subgroups as g
    inner join school_terms as t using (school_term)
),

reported as (
    select *,
        case
            when subgroup = 'not_reported' then subgroup
            when n < {{ var('min_cell_n') }} then 'other_groups'
            else subgroup
        end as reported_group
    from subgroups
),

groups as (
    select {{ key | join(', ') }}, subgroup_variable, reported_group,
        sum(n)::bigint as n_respondents, count(*) as n_groups_pooled,
        {{ exact_sum('sum_w') }} as sum_w, {{ exact_sum('sum_wy') }} / {{ exact_sum('sum_w') }} as mean_scaled,
        {{ exact_sum('sum_w2') }} as sum_w2, {{ exact_sum('sum_w2d') }} as sum_w2d,
        {{ exact_sum('sum_w2d2') }} as sum_w2d2
    from reported
    group by all
)

select * exclude (sum_w2, sum_w2d, sum_w2d2),
    greatest(sum_w2d2 - 2 * (mean_scaled - {{ centre }}) * sum_w2d
             + power(mean_scaled - {{ centre }}, 2) * sum_w2, 0.0) as sum_z2  -- sum w^2 (y - mean)^2
from groups
