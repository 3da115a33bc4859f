-- Privacy: no hidden cell can be recomputed by subtraction. In every additive table whose parent is
-- shown, the hidden children together rest on 0 or at least the minimum n respondents.
-- (macros/complementary_suppression.sql makes it so; this checks the outputs, not the macro.)
{%- set min_n = var('min_cell_n') %}
with school_items as (
    select 'school_items' as tbl, sum(n_respondents) filter (where is_suppressed) as n_hidden,
        sum(n_respondents) >= {{ min_n }} as parent_shown
    from {{ ref('int_school_item_disclosure') }}
    group by instrument, school_year, term, item_id, sample, grade_band
),

school_scales as (
    select 'school_scales' as tbl, sum(n_respondents) filter (where is_suppressed) as n_hidden,
        sum(n_respondents) >= {{ min_n }} as parent_shown
    from {{ ref('fct_school_scale_scores') }}
    group by instrument, school_year, term, component, sample, grade_band
),

subgroups as (
    select 'subgroups' as tbl, sum(n_respondents) filter (where is_suppressed) as n_hidden,
        not bool_or(suppression_reason = 'school_hidden') as parent_shown
    from {{ ref('fct_school_subgroup_scores') }}
    group by school_id, instrument, school_year, term, component, subgroup_variable
),

classrooms as (
    select 'classrooms' as tbl, sum(n_respondents) filter (where is_suppressed) as n_hidden,
        not bool_or(suppression_reason = 'school_hidden') as parent_shown
    from {{ ref('rpt_classroom_items') }}
    group by school_id, instrument, school_year, term, item_id
),

checks as (
    select *, {{ min_n }} as min_n from school_items
    union all
    select *, {{ min_n }} from school_scales
    union all
    select *, {{ min_n }} from subgroups
    union all
    select *, {{ var('min_classroom_n') }} from classrooms
)

select tbl, n_hidden, min_n from checks
where parent_shown and n_hidden > 0 and n_hidden < min_n
