{{ config(materialized='table') }}
-- Materialized: five models read it (as a view, each read joined every respondent to the cells again;
-- at ten million submissions the response sums then ran out of memory).
-- Grain: one row per respondent x instrument x school year x term, with the analysis weight.
-- How each group is weighted, and the raked weight of each raking cell, come from int_weighting_cells
-- (Python: weights.rake on the cells, see its docstring); here each respondent gets its group's method
-- and weight: 1 (unweighted), the supplied weight (external), its cell's raked weight (raked) or its
-- base weight (base_weights_fallback). Kish's design effect and effective n of each group are taken on
-- weights divided by the group's largest (squares of tiny weights do not underflow: weights.raking) with
-- exact sums (macros/exact_sum.sql), so that two builds agree to the last bit whatever order DuckDB's
-- threads meet the rows in.
with respondents as (
    select
        instrument, school_year, term, sample, respondent_key, region, grade_band, urbanicity,
        external_weight, coalesce(external_weight, 1.0) as base_weight
    from {{ ref('int_respondents') }}
),

cells as (
    select * from {{ ref('int_weighting_cells') }}
),

groups as (  -- the group's attributes: the same on every cell row of the group
    select
        instrument, school_year, term, sample,
        any_value(weight_method) as weight_method,
        any_value(raking_variables) as raking_variables,
        any_value(raking_iterations) as raking_iterations,
        any_value(meets_margins) as meets_margins,
        any_value(weighting_note) as weighting_note,
        any_value(margin_error_region) as margin_error_region,
        any_value(margin_error_grade_band) as margin_error_grade_band,
        any_value(margin_error_urbanicity) as margin_error_urbanicity
    from cells
    group by instrument, school_year, term, sample
),

weighted as (
    select
        r.instrument, r.school_year, r.term, r.sample, r.respondent_key,
        g.weight_method, g.raking_variables, g.raking_iterations, g.meets_margins, g.weighting_note,
        g.margin_error_region, g.margin_error_grade_band, g.margin_error_urbanicity,
        case g.weight_method
            when 'unweighted' then 1.0
            when 'external' then r.external_weight
            when 'base_weights_fallback' then r.base_weight
            else c.respondent_weight
        end as analysis_weight
    from respondents as r
    inner join groups as g
        on r.instrument = g.instrument and r.school_year = g.school_year and r.term = g.term
        and r.sample = g.sample
    left join cells as c
        on g.weight_method = 'raked'
        and r.instrument = c.instrument and r.school_year = c.school_year and r.term = c.term
        and r.sample = c.sample
        and r.region is not distinct from c.region and r.grade_band is not distinct from c.grade_band
        and r.urbanicity is not distinct from c.urbanicity and r.base_weight = c.base_weight
),

largest as (
    select instrument, school_year, term, sample, max(analysis_weight) as w_max
    from weighted
    group by instrument, school_year, term, sample
),

kish as (
    select
        w.instrument, w.school_year, w.term, w.sample,
        count(*) * {{ exact_sum('pow(w.analysis_weight / l.w_max, 2)') }}
        / pow({{ exact_sum('w.analysis_weight / l.w_max') }}, 2) as group_design_effect,
        pow({{ exact_sum('w.analysis_weight / l.w_max') }}, 2)
        / {{ exact_sum('pow(w.analysis_weight / l.w_max, 2)') }} as group_effective_n
    from weighted as w
    inner join largest as l
        on w.instrument = l.instrument and w.school_year = l.school_year and w.term = l.term
        and w.sample = l.sample
    group by w.instrument, w.school_year, w.term, w.sample
)

select
    w.instrument, w.school_year, w.term, w.sample, w.respondent_key,
    w.weight_method, w.raking_variables, w.raking_iterations, w.analysis_weight,
    k.group_design_effect, k.group_effective_n,
    w.meets_margins, w.weighting_note,
    w.margin_error_region, w.margin_error_grade_band, w.margin_error_urbanicity
from weighted as w
inner join kish as k
    on w.instrument = k.instrument and w.school_year = k.school_year and w.term = k.term
    and w.sample = k.sample
