-- Grain: one row per school x instrument x school year x term x item.
-- The school's top-box percent (answering at or above the item's top_box_min) with its SE and 95 % CI,
-- beside the school's network (its sample x grade band this term, fct_item_top_box_shares) and the
-- national benchmark (the current frozen version, its grade band and term, fct_national_benchmarks).
-- The difference from national is tested with Welch's t: se = sqrt(se_school^2 + se_national^2),
-- df by Welch-Satterthwaite from the school's n - 1 and the benchmark's design df (schools - 1), so a
-- benchmark resting on few schools is not treated as known. Hidden cells: see int_school_item_disclosure.
{#- An SE or a difference (percentage points) under 1e-9 is summation noise around an exact 0 (every
    school of a cell with the same share; a school equal to its benchmark): as noise it is 0 in one build
    and +-1e-15 in the next and switches the test below on and off. The shares are ratios of weighted
    counts, so a real SE or difference of that size cannot occur. -#}
{%- set noise = 1e-9 %}
with top_box as (
    select * from {{ ref('int_school_item_shares') }} where is_top_box
),

benchmark as (
    select benchmark_version, instrument, term, grade_band, measure_id as item_id,
        value as national_pct, se as national_pct_se, df as national_df
    from {{ ref('int_national_item_benchmarks') }}
    where is_current and measure = 'item_top_box' and not is_suppressed
),

joined as (
    select
        t.school_id, t.instrument, t.school_year, t.term, t.item_id, d.sample, d.grade_band,
        t.n_respondents, d.is_suppressed, d.suppression_reason,
        100 * t.p as pct, case when 100 * t.se_p < {{ noise }} then 0.0 else 100 * t.se_p end as pct_se, t.n_units - 1 as df,
        net.top_box_pct as network_pct, net.top_box_pct_se as network_pct_se,
        b.benchmark_version, b.national_pct, case when b.national_pct_se < {{ noise }} then 0.0 else b.national_pct_se end
            as national_pct_se, b.national_df
    from top_box as t
    inner join {{ ref('int_school_item_disclosure') }} as d
        using (school_id, instrument, school_year, term, item_id)
    left join {{ ref('fct_item_top_box_shares') }} as net
        on net.instrument = t.instrument and net.school_year = t.school_year and net.term = t.term
        and net.item_id = t.item_id and net.sample = d.sample and net.grade_band = d.grade_band
    left join benchmark as b
        on b.instrument = t.instrument and b.term = t.term and b.item_id = t.item_id
        and b.grade_band = d.grade_band
),

tested as (
    select *,
        -- a school that is its band's national sample has the national percent itself, computed by
        -- another sum: a difference under the noise is exactly 0 (as noise it was +-1e-15, and its sign
        -- changed between builds)
        case when abs(pct - national_pct) < {{ noise }} then 0.0 else pct - national_pct end as diff,
        sqrt(power(pct_se, 2) + power(national_pct_se, 2)) as diff_se,
        -- rounded: the ratio carries summation noise, and a df of exactly 1 must not come out as
        -- 0.9999999999 in one build (no t test below df 1) and 1.0000000001 in the next
        round(power(power(pct_se, 2) + power(national_pct_se, 2), 2)
            / nullif(power(pct_se, 4) / nullif(df, 0) + power(national_pct_se, 4) / nullif(national_df, 0), 0), 6)
            as diff_df
    from joined
),

significance as (  -- each statistical function once a row (a Python UDF: 2 s of the model's 4 when called twice)
    select *,
        case when not is_suppressed and df > 0 then t_critical(df, 0.05) end as t_crit,
        case when not is_suppressed and diff_se > 0 then t_two_sided_p(diff / diff_se, diff_df) end as p_value
    from tested
)

select
    school_id, instrument, school_year, term, item_id, sample, grade_band, n_respondents,
    is_suppressed, suppression_reason,
    case when not is_suppressed then pct end as top_box_pct,
    case when not is_suppressed then pct_se end as top_box_pct_se,
    case when not is_suppressed and df > 0 then greatest(pct - t_crit * pct_se, 0) end as top_box_ci_low,
    case when not is_suppressed and df > 0 then least(pct + t_crit * pct_se, 100) end as top_box_ci_high,
    network_pct as network_top_box_pct,
    benchmark_version,
    national_pct as national_top_box_pct,
    national_pct_se as national_top_box_pct_se,
    case when not is_suppressed then diff end as difference_from_national,
    p_value as difference_p_value,
    p_value < 0.05 as is_different_from_national_95
from significance
