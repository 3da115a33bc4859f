{{ config(schema='intermediate', materialized='table') }}
-- Grain: one row per school x instrument x school year x term x scaled component (unsuppressed; the
-- marts suppress). Weighted mean scaled score (weights: analysis_weight, 1 when missing) over the
-- scored respondents, its standard error (Taylor linearization with respondents as units:
-- var = n/(n-1) * sum((w_i (y_i - mean))^2) / (sum w)^2; equal weights give s^2/n), weighted
-- level shares, and the school level: the mean classified with the calibration's cut scores.
-- The weights are divided by their mean within the school x term x scale first (every quantity is
-- invariant to that scale): squares of weights such as 1e-220 would underflow to 0 and make SE = 0.
-- On numbers: each school x term x scale gets one (g) with its mean weight, an aggregate joined back to
-- the score rows (a window over the five text keys was half the model's time), and the sums below group
-- and join on it; the text keys come back at the end.
with groups as (  -- a number per school x instrument x school year x term x component, and its mean weight
    select row_number() over () as g, *
    from (
        select instrument, school_year, term, component, school_id,
            {{ exact_avg('coalesce(analysis_weight, 1.0)') }} as mean_w
        from {{ ref('fct_respondent_scores') }}
        group by all
    )
),

scores as (
    select g.g, s.calibration_id, s.is_scored, s.level, s.scaled_score, s.scaled_se, s.classification_accuracy,
        s.classification_consistency, s.is_misfitting, coalesce(s.analysis_weight, 1.0) / g.mean_w as w
    from {{ ref('fct_respondent_scores') }} as s
    inner join groups as g using (instrument, school_year, term, component, school_id)
),

means as (
    select
        g, calibration_id,
        count(*) filter (where is_scored) as n_respondents,
        count(*) filter (where not is_scored) as n_not_scored,
        {{ exact_sum('case when is_scored then w end') }} as sum_w,
        {{ exact_sum('case when is_scored then w * scaled_score end') }}
            / {{ exact_sum('case when is_scored then w end') }} as mean_scaled,
        {%- for level in ['emerging', 'moderate_low', 'moderate_high', 'high'] %}
        {{ exact_sum("case when level = '" ~ level ~ "' then w end") }}
            / {{ exact_sum('case when is_scored then w end') }} as share_{{ level }},
        {%- endfor %}
        -- measurement quality of the school's scores: separation reliability 1 - mean(SE^2) / var(measure)
        -- (the variance from the centred sum in `se` below), Rudner's classification accuracy and
        -- consistency of the levels, person misfit
        {{ exact_avg('case when is_scored then power(scaled_se, 2) end') }} as mean_se2,
        {{ exact_avg('case when is_scored then scaled_score end') }} as mean_unweighted,
        {{ exact_avg('case when is_scored then classification_accuracy end') }} as classification_accuracy,
        {{ exact_avg('case when is_scored then classification_consistency end') }} as classification_consistency,
        count(*) filter (where is_misfitting) as n_misfitting
    from scores
    group by all
),

se as (
    select
        m.g,
        {{ exact_sum('power(s.w * (s.scaled_score - m.mean_scaled), 2)') }} as sum_z2,
        {{ exact_sum('s.w * power(s.scaled_score - m.mean_scaled, 2)') }} as sum_wz2,
        {{ exact_sum('power(s.scaled_score - m.mean_unweighted, 2)') }} as sum_d2
    from means as m
    inner join scores as s on s.g = m.g and s.is_scored
    group by all
)

select
    k.instrument, k.school_year, k.term, k.component, k.school_id,
    m.* exclude (g, mean_se2, mean_unweighted),
    1 - m.mean_se2 / case when m.n_respondents > 1 then se.sum_d2 / (m.n_respondents - 1.0) end as reliability,
    case when m.n_respondents > 1
        then sqrt(m.n_respondents / (m.n_respondents - 1.0) * se.sum_z2) / m.sum_w end as se_scaled,
    -- weighted SD of the scaled scores (n/(n-1) corrected), for effect sizes
    case when m.n_respondents > 1
        then sqrt(m.n_respondents / (m.n_respondents - 1.0) * se.sum_wz2 / m.sum_w) end as sd_scaled,
    case
        when m.mean_scaled is null then null
        when m.mean_scaled >= c.cut_high then 'high'
        when m.mean_scaled >= c.cut_moderate_high then 'moderate_high'
        when m.mean_scaled >= c.cut_moderate_low then 'moderate_low'
        else 'emerging'
    end as school_level
from means as m
inner join groups as k using (g)
left join se using (g)
left join {{ ref('stg_scoring__calibrations') }} as c
    on c.calibration_id = m.calibration_id and c.instrument = k.instrument and c.component = k.component
