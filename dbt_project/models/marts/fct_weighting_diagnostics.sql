-- Grain: one row per instrument x school year x term x sample: how its weights were made and how good
-- they are. weight_method: external | unweighted | raked | base_weights_fallback (samples.csv:
-- weighting; raking falls back when no set of raking variables meets its margins). For raked groups:
-- the largest relative margin error per raking variable and meets_margins. For every group: the weight
-- range relative to the mean weight (weight_min_rel < var('min_weight_rel') flags weights a few
-- respondents can dominate a cell with), Kish's design effect and effective n.
with weights as (
    select * from {{ ref('int_respondent_weights') }}
)

select
    instrument,
    school_year,
    term,
    sample,
    any_value(weight_method) as weight_method,
    -- cast: all-null text from the Python weights model arrives as DuckDB's NULL type (no group raked)
    cast(any_value(raking_variables) as varchar) as raking_variables,
    any_value(raking_iterations) as raking_iterations,
    any_value(meets_margins) as meets_margins,
    any_value(margin_error_region) as margin_error_region,
    any_value(margin_error_grade_band) as margin_error_grade_band,
    any_value(margin_error_urbanicity) as margin_error_urbanicity,
    cast(any_value(weighting_note) as varchar) as weighting_note,
    count(*) as n_respondents,
    {{ exact_sum('analysis_weight') }} as weight_total,
    min(analysis_weight) as weight_min,
    max(analysis_weight) as weight_max,
    min(analysis_weight) / {{ exact_avg('analysis_weight') }} as weight_min_rel,
    max(analysis_weight) / {{ exact_avg('analysis_weight') }} as weight_max_rel,
    min(analysis_weight) / {{ exact_avg('analysis_weight') }} < {{ var('min_weight_rel') }} as has_weight_below_floor,
    any_value(group_design_effect) as design_effect,
    any_value(group_effective_n) as kish_effective_n
from weights
group by instrument, school_year, term, sample
