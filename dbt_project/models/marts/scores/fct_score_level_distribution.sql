-- Grain: one row per instrument x school year x term x scaled component x grade band x sample x level
-- (the national scan's Figure 3). Weighted percent of scored respondents in the level with its
-- Taylor-linearization SE, schools as primary sampling units (as macros/weighted_proportion.sql):
-- p = sum(w y) / sum(w); z_h = sum_{i in school h} w_i (y_i - p) / sum(w); var = H/(H-1) sum_h z_h^2.
-- Cells under var('min_cell_n') scored respondents are suppressed (counts kept, estimates null).
with scores as (
    select instrument, school_year, term, component, grade_band, sample, school_id, level,
        coalesce(analysis_weight, 1.0) as w
    from {{ ref('fct_respondent_scores') }}
    where is_scored
),

levels as (
    select distinct level, level_order from {{ ref('cut_scores') }}
),

cells as (
    select instrument, school_year, term, component, grade_band, sample,
        count(*) as n_respondents, count(distinct school_id) as n_schools, sum(w) as sum_w
    from scores
    group by all
),

per_school as (
    select s.instrument, s.school_year, s.term, s.component, s.grade_band, s.sample, l.level, l.level_order,
        s.school_id,
        sum(case when s.level = l.level then s.w else 0 end) as school_wy,
        sum(s.w) as school_w,
        count(case when s.level = l.level then 1 end) as school_n
    from scores as s
    cross join levels as l
    group by all
),

shares as (
    select p.instrument, p.school_year, p.term, p.component, p.grade_band, p.sample, p.level, p.level_order,
        sum(p.school_n) as n_in_level,
        sum(p.school_wy) / any_value(c.sum_w) as p,
        any_value(c.n_respondents) as n_respondents,
        any_value(c.n_schools) as n_schools,
        any_value(c.sum_w) as sum_w
    from per_school as p
    inner join cells as c using (instrument, school_year, term, component, grade_band, sample)
    group by all
),

z as (
    select p.instrument, p.school_year, p.term, p.component, p.grade_band, p.sample, p.level,
        sum(power((p.school_wy - s.p * p.school_w) / s.sum_w, 2)) as sum_z2
    from per_school as p
    inner join shares as s using (instrument, school_year, term, component, grade_band, sample, level)
    group by all
)

select
    s.instrument,
    s.school_year,
    s.term,
    s.component,
    s.grade_band,
    s.sample,
    s.level,
    s.level_order,
    s.n_respondents,
    s.n_schools,
    s.n_in_level,
    s.n_respondents < {{ var('min_cell_n') }} as is_suppressed,
    case when s.n_respondents >= {{ var('min_cell_n') }} then 100 * s.p end as weighted_pct,
    case when s.n_respondents >= {{ var('min_cell_n') }} and s.n_schools > 1
        then 100 * sqrt(s.n_schools / (s.n_schools - 1.0) * z.sum_z2) end as weighted_pct_se
from shares as s
inner join z using (instrument, school_year, term, component, grade_band, sample, level)
