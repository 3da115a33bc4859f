-- depends_on: {{ ref('fct_score_level_distribution') }}
-- ^ not read here: an order for dbt, which starts the models that are ready by graph depth, then by name,
-- not by the longest chain. Without it this model is ready with fct_school_scale_scores, and the models
-- and tests ready before it by depth took the thread it needed (the scores build 18.7 / 21.6 s against
-- 16.7 / 17.8 s with it); with it, the level distribution goes first on the other thread while the school
-- means finish (BENCHMARKS.md, "Tests beside the build" and "The subgroup scores' sums beside the school means").
-- Grain: one row per school x school year x instrument x scaled component: fall -> spring growth on the
-- scaled (200-300) score, in two designs, both weighted with the analysis weights:
--   all respondents ("unmatched" columns): growth = weighted mean of spring - weighted mean of fall.
--     Most respondents answer in both terms, so the two means are correlated; the SE linearizes the
--     difference over the union of the term's respondents (each respondent a unit):
--       z_i = w_i (y_si - mean_s) / W_s - w_i (y_fi - mean_f) / W_f   (0 for a term not answered)
--       var = m / (m - 1) * sum_i z_i^2,  m = respondents in either term,  df = m - 2
--     (= V_fall + V_spring - 2 Cov: the covariance of the returning respondents is counted);
--   matched (respondents scored in both terms, same respondent_key): weighted mean of the paired
--     differences d_i = y_si - y_fi (weight: the mean of the respondent's two analysis weights),
--     var = n / (n - 1) * sum (w_i (d_i - mean_d))^2 / W^2, df = n_matched - 1; level transitions.
-- Both: t = growth / SE, p on df (leap/inference.py), CI = growth +- t_{0.975, df} SE, q-value by
-- Benjamini-Hochberg over the school's report (its instrument x scale tests of the year, per design),
-- effect_size = growth / pooled within-term SD. Growth is only computed when both terms were scored
-- with the same calibration. Suppression: unmatched estimates need n >= var('min_cell_n') in both
-- terms and neither term's school cell hidden in fct_school_scale_scores (complementary suppression
-- included), matched estimates need n_matched >= var('min_cell_n') and the unmatched ones shown (else a
-- hidden term's mean comes back as the matched mean when nearly all answered both); counts are kept.
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

-- The respondent rows are met on narrow keys: a number per school x school year x instrument x scale (the
-- growth cell, numbered from the school means' 40 thousand rows at a million submissions) and whether the
-- row is the first term; every sum, join and pair below groups on those, not on four text columns, and
-- the text keys come back with the cells at the end (the same groups, so the same sums to the bit): at a
-- million submissions 5.7-5.9 -> 3.6-3.7 s in the scores build, 0.25 GB less at the step's peak.
cells as (
    select row_number() over () as cell, *
    from (select distinct school_year, instrument, component, school_id from means)
),

scored as not materialized (  -- scored respondents of the two terms
    select c.cell, s.respondent_key, s.calibration_id, s.scaled_score, s.level_order,
        s.term = g.first_term as is_first_term, coalesce(s.analysis_weight, 1.0) as weight
    from {{ ref('fct_respondent_scores') }} as s
    inner join growth_terms as g on s.term in (g.first_term, g.last_term)
    inner join cells as c
        on c.school_year = s.school_year and c.instrument = s.instrument and c.component = s.component
        and c.school_id = s.school_id
    where s.is_scored
),

weight_means as (
    select cell, is_first_term, {{ exact_avg('weight') }} as mean_weight
    from scored
    group by all
),

scores as (
    -- weights divided by their mean within school x term x scale (every quantity below is invariant to
    -- that scale; tiny weights would underflow when squared), an aggregate joined back: as a window over
    -- the 2.9 million score rows of a million submissions the model took 8.8 s of CPU, now 6.5 s
    select s.* exclude (weight), s.weight / m.mean_weight as w
    from scored as s
    inner join weight_means as m using (cell, is_first_term)
),

term_totals as (
    select cell, is_first_term,
        {{ exact_sum('w') }} as sum_w, {{ exact_sum('w * scaled_score') }} / {{ exact_sum('w') }} as mean_scaled
    from scores
    group by all
),

linearized as (
    -- each respondent's contribution to (mean_spring - mean_fall), in units of the term's weight total
    -- (a sum of one or two terms: float addition of two numbers does not depend on their order)
    select s.cell, s.respondent_key,
        sum(case when s.is_first_term then -1 else 1 end * s.w * (s.scaled_score - t.mean_scaled) / t.sum_w) as z
    from scores as s
    inner join term_totals as t using (cell, is_first_term)
    group by all
),

overlap_variance as (
    select c.school_year, c.instrument, c.component, c.school_id, v.n_union, v.var_growth
    from (
        select cell, count(*) as n_union,
            case when count(*) > 2 then count(*) / (count(*) - 1.0) * {{ exact_sum('z * z') }} end as var_growth
        from linearized
        group by all
    ) as v
    inner join cells as c using (cell)
),

pairs as (
    select
        f.cell,
        s.scaled_score - f.scaled_score as diff,
        f.scaled_score as fall_score,
        s.scaled_score as spring_score,
        (f.w + s.w) / 2 as w,
        sign(s.level_order - f.level_order) as moved
    from scores as f
    inner join scores as s
        on f.cell = s.cell and f.respondent_key = s.respondent_key and f.calibration_id = s.calibration_id
    where f.is_first_term and not s.is_first_term
),

pair_means as (
    select cell, {{ exact_avg('w') }} as mean_w
    from pairs
    group by all
),

pairs_normalized as (
    select p.*, p.w / m.mean_w as wn
    from pairs as p
    inner join pair_means as m using (cell)
),

matched_means as (
    select cell,
        count(*) as n_matched,
        {{ exact_sum('wn * fall_score') }} / {{ exact_sum('wn') }} as mean_fall_matched,
        {{ exact_sum('wn * spring_score') }} / {{ exact_sum('wn') }} as mean_spring_matched,
        {{ exact_sum('wn * diff') }} / {{ exact_sum('wn') }} as growth_matched,
        {{ exact_sum('wn') }} as sum_w,
        count(*) filter (where moved > 0) as n_moved_up,
        count(*) filter (where moved < 0) as n_moved_down,
        count(*) filter (where moved = 0) as n_same_level
    from pairs_normalized
    group by all
),

matched_ss as (
    select p.cell, {{ exact_sum('power(p.wn * (p.diff - mm.growth_matched), 2)') }} as sum_z2
    from matched_means as mm
    inner join pairs_normalized as p using (cell)
    group by all
),

matched as (
    select c.school_year, c.instrument, c.component, c.school_id, mm.* exclude (cell),
        case when mm.n_matched > 1 then sqrt(mm.n_matched / (mm.n_matched - 1.0) * ss.sum_z2) / mm.sum_w end
            as growth_matched_se
    from matched_means as mm
    inner join matched_ss as ss using (cell)
    inner join cells as c using (cell)
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
        s.se_scaled as se_spring,
        sqrt(((f.n_respondents - 1) * power(f.sd_scaled, 2) + (s.n_respondents - 1) * power(s.sd_scaled, 2))
            / nullif(f.n_respondents + s.n_respondents - 2, 0)) as pooled_sd
    from (select * from means where is_first_term) as f
    full outer join (select * from means where not is_first_term) as s
        on f.school_year = s.school_year and f.instrument = s.instrument and f.component = s.component
        and f.school_id = s.school_id
),

hidden_terms as (
    -- a term whose school cell is hidden (also complementary-hidden) hides the growth: growth = spring -
    -- fall would give the hidden mean back from the shown one
    select distinct s.school_year, s.instrument, s.component, s.school_id
    from {{ ref('fct_school_scale_scores') }} as s
    inner join growth_terms as g on s.term in (g.first_term, g.last_term)
    where s.is_suppressed
),

growth as (
    select
        b.*,
        b.n_fall < {{ min_n }} or b.n_spring < {{ min_n }} or not b.is_same_calibration
            or h.school_id is not null as is_suppressed,
        case when b.is_same_calibration then b.mean_spring - b.mean_fall end as growth_unmatched,
        case when b.is_same_calibration then sqrt(v.var_growth) end as growth_unmatched_se,
        v.n_union - 2 as growth_unmatched_df,
        coalesce(m.n_matched, 0) as n_matched,
        -- matched estimates only where the unmatched ones are shown too: a hidden term's mean would
        -- come back as the matched mean when (nearly) every respondent answered both terms
        coalesce(m.n_matched, 0) < {{ min_n }} or b.n_fall < {{ min_n }} or b.n_spring < {{ min_n }}
            or not b.is_same_calibration or h.school_id is not null as is_suppressed_matched,
        m.mean_fall_matched, m.mean_spring_matched, m.growth_matched, m.growth_matched_se,
        m.n_matched - 1 as growth_matched_df,
        coalesce(m.n_moved_up, 0) as n_moved_up,
        coalesce(m.n_moved_down, 0) as n_moved_down,
        coalesce(m.n_same_level, 0) as n_same_level
    from both_terms as b
    left join overlap_variance as v using (school_year, instrument, component, school_id)
    left join matched as m using (school_year, instrument, component, school_id)
    left join hidden_terms as h using (school_year, instrument, component, school_id)
),

tested as (
    select *,
        case when not is_suppressed and growth_unmatched_se > 0
            then t_two_sided_p(growth_unmatched / growth_unmatched_se, growth_unmatched_df) end as p_unmatched,
        case when not is_suppressed_matched and growth_matched_se > 0
            then t_two_sided_p(growth_matched / growth_matched_se, growth_matched_df) end as p_matched,
        case when not is_suppressed then t_critical(growth_unmatched_df, 0.05) end as t_unmatched,
        case when not is_suppressed_matched then t_critical(growth_matched_df, 0.05) end as t_matched
    from growth
),

{%- for design in ['unmatched', 'matched'] %}

ranked_{{ design }} as (
    select school_id, school_year, instrument, component, p_{{ design }} as p,
        count(p_{{ design }}) over (partition by school_id, school_year) as m,
        row_number() over (partition by school_id, school_year
                           order by p_{{ design }} asc nulls last, instrument, component) as k
    from tested
),

q_{{ design }} as (
    select school_id, school_year, instrument, component,
        case when p is not null then least(1.0, min(p * m / k) over (partition by school_id, school_year
            order by p desc nulls first, k desc rows between unbounded preceding and current row)) end
            as q_{{ design }}
    from ranked_{{ design }}
),
{%- endfor %}

final as (
    select t.*, qu.q_unmatched, qm.q_matched
    from tested as t
    inner join q_unmatched as qu using (school_id, school_year, instrument, component)
    inner join q_matched as qm using (school_id, school_year, instrument, component)
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
    case when not is_suppressed then growth_unmatched_df end as growth_unmatched_df,
    case when not is_suppressed then growth_unmatched - t_unmatched * growth_unmatched_se end
        as growth_unmatched_ci_low,
    case when not is_suppressed then growth_unmatched + t_unmatched * growth_unmatched_se end
        as growth_unmatched_ci_high,
    case when not is_suppressed then p_unmatched end as growth_unmatched_p,
    case when not is_suppressed then q_unmatched end as growth_unmatched_q,
    case when not is_suppressed then coalesce(p_unmatched < 0.05, false) end as is_significant_unmatched,
    case when not is_suppressed then coalesce(q_unmatched < 0.05, false) end as is_significant_unmatched_fdr,
    case when not is_suppressed then pooled_sd end as pooled_sd,
    case when not is_suppressed then growth_unmatched / nullif(pooled_sd, 0) end as effect_size,
    n_matched,
    is_suppressed_matched,
    case when not is_suppressed_matched then mean_fall_matched end as mean_fall_matched,
    case when not is_suppressed_matched then mean_spring_matched end as mean_spring_matched,
    case when not is_suppressed_matched then growth_matched end as growth_matched,
    case when not is_suppressed_matched then growth_matched_se end as growth_matched_se,
    case when not is_suppressed_matched then growth_matched_df end as growth_matched_df,
    case when not is_suppressed_matched then growth_matched - t_matched * growth_matched_se end
        as growth_matched_ci_low,
    case when not is_suppressed_matched then growth_matched + t_matched * growth_matched_se end
        as growth_matched_ci_high,
    case when not is_suppressed_matched then p_matched end as growth_matched_p,
    case when not is_suppressed_matched then q_matched end as growth_matched_q,
    case when not is_suppressed_matched then coalesce(p_matched < 0.05, false) end as is_significant_matched,
    case when not is_suppressed_matched then coalesce(q_matched < 0.05, false) end as is_significant_matched_fdr,
    case when not is_suppressed_matched then growth_matched / nullif(pooled_sd, 0) end as effect_size_matched,
    case when not is_suppressed_matched then n_moved_up end as n_moved_up,
    case when not is_suppressed_matched then n_moved_down end as n_moved_down,
    case when not is_suppressed_matched then n_same_level end as n_same_level
from final
