-- Grain: one row per instrument x school year x term x scaled component x grade band x sample, with
-- grade_band 'all' for every grade band together (the sample's mean over all grades; fct_group_scale_comparisons).
-- Weighted mean scaled score of the scored respondents and its SE with schools as primary sampling
-- units (Taylor linearization; R: svymean(~scaled_score, svydesign(ids = ~school_id, weights = ~w))):
--     mean = sum(w y) / sum(w);   z_h = sum over school h of w (y - mean) / sum(w)
--     var  = H / (H - 1) * sum_h z_h^2,   H = schools in the cell,  df = H - 1
-- Weights are divided by their mean within the cell first (invariant; avoids underflow of tiny
-- weights). The network and national benchmark of the school reports; suppressed under min n.
{%- set cell = ['instrument', 'school_year', 'term', 'component', 'grade_band', 'sample'] %}
{%- set ok = "n_respondents >= " ~ var('min_cell_n') %}
with scored as (  -- each grade band, and all grade bands together (grade_band 'all')
    select instrument, school_year, term, component, grade_band, sample, school_id, scaled_score, analysis_weight
    from {{ ref('fct_respondent_scores') }}
    where is_scored
    union all
    select instrument, school_year, term, component, 'all', sample, school_id, scaled_score, analysis_weight
    from {{ ref('fct_respondent_scores') }}
    where is_scored
),

scores as (
    select {{ cell | join(', ') }}, school_id, scaled_score,
        coalesce(analysis_weight, 1.0) / {{ exact_avg('coalesce(analysis_weight, 1.0)',
            over='partition by ' ~ cell | join(', ')) }} as w
    from scored
),

means as (
    select {{ cell | join(', ') }}, count(*) as n_respondents, count(distinct school_id) as n_schools,
        {{ exact_sum('w') }} as sum_w, {{ exact_sum('w * scaled_score') }} / {{ exact_sum('w') }} as mean_scaled
    from scores
    group by all
),

per_school as (
    select {% for c in cell %}s.{{ c }}, {% endfor %}s.school_id,
        {{ exact_sum('s.w * (s.scaled_score - m.mean_scaled)') }} / any_value(m.sum_w) as z
    from scores as s
    inner join means as m using ({{ cell | join(', ') }})
    group by all
),

variance as (
    select {{ cell | join(', ') }}, {{ exact_sum('z * z') }} as sum_z2
    from per_school
    group by all
)

select
    {{ cell | join(', ') }},
    m.n_respondents,
    m.n_schools,
    not ({{ ok }}) as is_suppressed,
    case when {{ ok }} then m.mean_scaled end as mean_scaled_score,
    case when {{ ok }} and m.n_schools > 1
        then sqrt(m.n_schools / (m.n_schools - 1.0) * v.sum_z2) end as mean_scaled_score_se,
    case when {{ ok }} and m.n_schools > 1 then m.n_schools - 1 end as df
from means as m
inner join variance as v using ({{ cell | join(', ') }})
