-- Grain: one row per school x school year x instrument x scaled component: fall -> spring growth on the
-- scaled (200-300) score.
--   unmatched design (independent samples): growth = mean_spring - mean_fall (weighted means of all
--     scored respondents of each term), SE = sqrt(se_fall^2 + se_spring^2);
--   matched design (respondents scored in both terms, same respondent_key): growth = mean of the paired
--     differences spring - fall, SE = sd(differences) / sqrt(n_matched); level transitions among them.
-- Significant at 95%: |growth| > 1.96 SE. Growth is only computed when both terms were scored with the
-- same calibration. Suppression: unmatched estimates need n >= var('min_cell_n') in both terms, matched
-- estimates need n_matched >= var('min_cell_n'); counts are always kept.
{%- set min_n = var('min_cell_n') %}
with growth_terms as (
    -- fall -> spring: the first and the last term of the school year (terms.csv: term_order)
    select min_by(term, term_order) as first_term, max_by(term, term_order) as last_term
    from {{ ref('terms') }}
),

means as (
    select m.*, m.term = g.first_term as is_first_term
    from {{ ref('int_school_scale_means') }} as m
    inner join growth_terms as g on m.term in (g.first_term, g.last_term)
),

pairs as (
    select
        f.school_year, f.instrument, f.component, f.school_id,
        s.scaled_score - f.scaled_score as diff,
        f.scaled_score as fall_score,
        s.scaled_score as spring_score,
        sign(s.level_order - f.level_order) as moved
    from {{ ref('fct_respondent_scores') }} as f
    inner join {{ ref('fct_respondent_scores') }} as s
        on f.school_year = s.school_year and f.instrument = s.instrument and f.component = s.component
        and f.respondent_key = s.respondent_key and f.school_id = s.school_id
        and f.calibration_id = s.calibration_id
    where f.term = (select first_term from growth_terms) and s.term = (select last_term from growth_terms)
        and f.is_scored and s.is_scored
),

matched as (
    select
        school_year, instrument, component, school_id,
        count(*) as n_matched,
        avg(fall_score) as mean_fall_matched,
        avg(spring_score) as mean_spring_matched,
        avg(diff) as growth_matched,
        stddev_samp(diff) / sqrt(count(*)) as growth_matched_se,
        count(*) filter (where moved > 0) as n_moved_up,
        count(*) filter (where moved < 0) as n_moved_down,
        count(*) filter (where moved = 0) as n_same_level
    from pairs
    group by all
),

both_terms as (
    select
        coalesce(f.school_year, s.school_year) as school_year,
        coalesce(f.instrument, s.instrument) as instrument,
        coalesce(f.component, s.component) as component,
        coalesce(f.school_id, s.school_id) as school_id,
        f.calibration_id as calibration_id_fall,
        s.calibration_id as calibration_id_spring,
        coalesce(f.calibration_id = s.calibration_id, false) as is_same_calibration,
        coalesce(f.n_respondents, 0) as n_fall,
        coalesce(s.n_respondents, 0) as n_spring,
        f.mean_scaled as mean_fall,
        f.se_scaled as se_fall,
        s.mean_scaled as mean_spring,
        s.se_scaled as se_spring
    from (select * from means where is_first_term) as f
    full outer join (select * from means where not is_first_term) as s
        on f.school_year = s.school_year and f.instrument = s.instrument and f.component = s.component
        and f.school_id = s.school_id
),

growth as (
    select
        b.*,
        b.n_fall < {{ min_n }} or b.n_spring < {{ min_n }} or not b.is_same_calibration as is_suppressed,
        case when b.is_same_calibration then b.mean_spring - b.mean_fall end as growth_unmatched,
        case when b.is_same_calibration then sqrt(power(b.se_fall, 2) + power(b.se_spring, 2)) end
            as growth_unmatched_se,
        coalesce(m.n_matched, 0) as n_matched,
        coalesce(m.n_matched, 0) < {{ min_n }} as is_suppressed_matched,
        m.mean_fall_matched, m.mean_spring_matched, m.growth_matched, m.growth_matched_se,
        coalesce(m.n_moved_up, 0) as n_moved_up,
        coalesce(m.n_moved_down, 0) as n_moved_down,
        coalesce(m.n_same_level, 0) as n_same_level
    from both_terms as b
    left join matched as m using (school_year, instrument, component, school_id)
)

select
    school_id,
    school_year,
    instrument,
    component,
    calibration_id_fall,
    calibration_id_spring,
    is_same_calibration,
    n_fall,
    n_spring,
    is_suppressed,
    case when not is_suppressed then mean_fall end as mean_fall,
    case when not is_suppressed then se_fall end as mean_fall_se,
    case when not is_suppressed then mean_spring end as mean_spring,
    case when not is_suppressed then se_spring end as mean_spring_se,
    case when not is_suppressed then growth_unmatched end as growth_unmatched,
    case when not is_suppressed then growth_unmatched_se end as growth_unmatched_se,
    case when not is_suppressed then growth_unmatched - 1.96 * growth_unmatched_se end as growth_unmatched_ci_low,
    case when not is_suppressed then growth_unmatched + 1.96 * growth_unmatched_se end as growth_unmatched_ci_high,
    case when not is_suppressed then abs(growth_unmatched) > 1.96 * growth_unmatched_se end
        as is_significant_unmatched,
    n_matched,
    is_suppressed_matched,
    case when not is_suppressed_matched then mean_fall_matched end as mean_fall_matched,
    case when not is_suppressed_matched then mean_spring_matched end as mean_spring_matched,
    case when not is_suppressed_matched then growth_matched end as growth_matched,
    case when not is_suppressed_matched then growth_matched_se end as growth_matched_se,
    case when not is_suppressed_matched then growth_matched - 1.96 * growth_matched_se end as growth_matched_ci_low,
    case when not is_suppressed_matched then growth_matched + 1.96 * growth_matched_se end as growth_matched_ci_high,
    case when not is_suppressed_matched then abs(growth_matched) > 1.96 * growth_matched_se end
        as is_significant_matched,
    case when not is_suppressed_matched then n_moved_up end as n_moved_up,
    case when not is_suppressed_matched then n_moved_down end as n_moved_down,
    case when not is_suppressed_matched then n_same_level end as n_same_level
from growth
