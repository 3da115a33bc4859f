-- Grain: one row per instrument x school year x term x sample: how its weights were made.
-- weight_total equals the population total of the margins for raked groups (tested).
with weights as (
    select * from {{ ref('int_respondent_weights') }}
)

select
    instrument,
    school_year,
    term,
    sample,
    any_value(weight_method) as weight_method,
    any_value(raking_variables) as raking_variables,
    any_value(raking_iterations) as raking_iterations,
    count(*) as n_respondents,
    sum(analysis_weight) as weight_total,
    min(analysis_weight) as weight_min,
    max(analysis_weight) as weight_max,
    any_value(group_design_effect) as design_effect,
    any_value(group_effective_n) as kish_effective_n
from weights
group by instrument, school_year, term, sample
