-- depends_on: {{ ref('int_school_scale_means') }}
-- ^ not read here: an order for dbt, which starts the models that are ready by graph depth, then by name,
-- so this one (2.5 s at a million submissions) went before int_school_scale_means, which heads the longest
-- chain of the build, and held it back (dbt-core #10632; BENCHMARKS.md, "Shorter waits").
-- Grain: one row per instrument x school year x term x scaled component x grade band x sample x level
-- (the national scan's Figure 3). Weighted percent of scored respondents in the level with its
-- Taylor-linearization SE, schools as primary sampling units: the same estimator as the item
-- distributions (macros/weighted_proportion.sql), with the levels of cut_scores.csv as the categories.
-- Cells under var('min_cell_n') scored respondents are suppressed (counts kept, estimates null).
with scores as (
    select instrument, school_year, term, component, grade_band, sample, school_id,
        level_order as category, coalesce(analysis_weight, 1.0) as analysis_weight
    from {{ ref('fct_respondent_scores') }}
    where is_scored
),

levels as (
    select distinct level, level_order from {{ ref('cut_scores') }}
),

shares as (
    {{ weighted_category_shares('scores', ['instrument', 'school_year', 'term', 'component', 'grade_band', 'sample'],
        categories="select distinct level_order as category from " ~ ref('cut_scores'), category_keys=[]) }}
)

select
    s.instrument,
    s.school_year,
    s.term,
    s.component,
    s.grade_band,
    s.sample,
    l.level,
    l.level_order,
    s.n_respondents,
    s.n_schools,
    case when s.n_respondents >= {{ var('min_cell_n') }} then s.n_in_category end as n_in_level,  -- a count per level is a share
    s.n_respondents < {{ var('min_cell_n') }} as is_suppressed,
    case when s.n_respondents >= {{ var('min_cell_n') }} then 100 * s.p end as weighted_pct,
    case when s.n_respondents >= {{ var('min_cell_n') }} then 100 * s.se_p end as weighted_pct_se
from shares as s
inner join levels as l on l.level_order = s.category
