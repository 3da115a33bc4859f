-- Grain: one row per instrument x school year x term x scaled component x grade band x sample, with
-- grade_band 'all' for every grade band together (the sample's mean over all grades; fct_group_scale_comparisons).
-- Weighted mean scaled score of the scored respondents and its SE with schools as primary sampling
-- units (Taylor linearization; R: svymean(~scaled_score, svydesign(ids = ~school_id, weights = ~w))):
--     mean = sum(w y) / sum(w);   z_h = sum over school h of w (y - mean) / sum(w)
--     var  = H / (H - 1) * sum_h z_h^2,   H = schools in the cell,  df = H - 1
-- Aggregated first: per school the weights' sum and the weighted sum of y - c, then the cell's mean and
-- every school's z from those (one pass over the respondents, no window); c, the middle of the 200-300
-- scale, keeps the subtraction in z to the size of the spread. Each z is a ratio of weights, so tiny
-- weights (1e-200) cannot underflow it. The network and national benchmark of the school reports;
-- suppressed under min n.
{%- set cell = ['instrument', 'school_year', 'term', 'component', 'grade_band', 'sample'] %}
{%- set centre = 250 %}
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

per_school as (  -- aggregate first: each school's count and sums in the cell, about a centre c (below)
    select {{ cell | join(', ') }}, school_id, count(*) as n, {{ exact_sum('w') }} as s_w,
        {{ exact_sum('w * (scaled_score - ' ~ centre ~ ')') }} as s_wd
    from (select *, coalesce(analysis_weight, 1.0) as w from scored)
    group by all
),

means as (
    select {{ cell | join(', ') }}, sum(n)::bigint as n_respondents, count(*) as n_schools,
        {{ exact_sum('s_w') }} as sum_w, {{ centre }} + {{ exact_sum('s_wd') }} / {{ exact_sum('s_w') }} as mean_scaled
    from per_school
    group by all
),

variance as (  -- z_h = sum over school h of w (y - mean) / sum(w) = (s_wd - (mean - c) s_w) / sum(w)
    select {% for c in cell %}m.{{ c }}, {% endfor %}
        {{ exact_sum('power((p.s_wd - (m.mean_scaled - ' ~ centre ~ ') * p.s_w) / m.sum_w, 2)') }} as sum_z2
    from per_school as p
    inner join means as m using ({{ cell | join(', ') }})
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
