-- Grain: one row per benchmark version x instrument x term x grade band x measure x measure id.
-- The national benchmark a school is compared with: the weighted national sample of the version's
-- reference school year, frozen. Later years never move it; re-benchmarking is a new row in
-- benchmarks.csv (a new version), and a report names the version it used. Measures: item_top_box (the
-- item's top-box percent, measure_id = item_id) and scale_mean (mean scaled score, measure_id = the
-- component), each with its SE (schools as PSUs), design df and the n behind it. The current version
-- is the one adopted last.
with versions as (
    select benchmark_version, reference_school_year, adopted_on,
        adopted_on = max(adopted_on) over () as is_current
    from {{ ref('benchmarks') }}
),

items as (
    select instrument, school_year, term, grade_band, 'item_top_box' as measure, item_id as measure_id,
        top_box_pct as value, top_box_pct_se as se, n_respondents, n_schools, is_suppressed
    from {{ ref('fct_item_top_box_shares') }}
    where sample = 'national'
),

scales as (
    select instrument, school_year, term, grade_band, 'scale_mean' as measure, component as measure_id,
        mean_scaled_score as value, mean_scaled_score_se as se, n_respondents, n_schools, is_suppressed
    from {{ ref('fct_group_scale_means') }}
    where sample = 'national'
),

measures as (
    select * from items
    union all
    select * from scales
)

select
    v.benchmark_version,
    v.reference_school_year,
    v.adopted_on,
    v.is_current,
    m.instrument,
    m.term,
    m.grade_band,
    m.measure,
    m.measure_id,
    m.n_respondents,
    m.n_schools,
    m.is_suppressed,
    m.value,
    m.se,
    case when m.n_schools > 1 then m.n_schools - 1 end as df
from measures as m
inner join versions as v on m.school_year = v.reference_school_year
