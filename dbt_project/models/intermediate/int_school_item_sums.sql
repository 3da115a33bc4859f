{{ config(materialized='incremental', incremental_strategy='append', on_schema_change='fail',
          pre_hook="{{ delete_changed_partitions() }}") }}
-- Incremental by school year x term (macros/partitions.sql): a build passed var('partitions') rebuilds
-- those partitions only.
-- Grain: one row per instrument x school year x term x item x school x grade band x sample x category
-- chosen (null: skipped). The respondent x item rows summed once, for every estimate that reads them
-- (macros/weighted_proportion.sql with summed=true: the school's own distribution, the national
-- distribution and top-box shares): n respondents, and the sums of w / k and (w / k)^2 where k
-- (w_scale, int_school_weight_scales) is the school's mean analysis weight on the instrument that
-- term. Dividing by k first keeps the squares of tiny weights (1e-200) from underflowing; the
-- estimator multiplies by k / (its cell's mean weight) again, so every estimate is that of the rows.
-- Summed on narrow keys (a number per instrument x year x term x school x grade band x sample, the item's
-- number, the category), the respondent side reduced to submission -> (number, w / k): at ten million
-- submissions the 37 M groups of eight text keys did not fit DuckDB's memory limit.
-- `respondents` is read twice (the cells, the sums) and not materialized: DuckDB would hold a copy of it
-- in memory, where it cannot spill (at a million, one thread: 9.2 -> 7.8 s of CPU at 2 GB, 3.5 -> 2.2 GB
-- spilled at 150 MB); computed twice, its dense_rank gives the same numbers, as it orders by every key.
with respondents as not materialized (  -- per counted submission: its cell's key and its weight at the school's scale
    select *, {{ exact_split('w', 'w') }}, {{ exact_split('w * w', 'w2') }}  -- split once (macros/exact_sum.sql)
    from (
        select r.submission_id,
            dense_rank() over (order by r.instrument, r.school_year, r.term, r.school_id, r.grade_band, r.sample)
                as cell_id,
            r.instrument, r.school_year, r.term, r.school_id, r.grade_band, r.sample, k.w_scale,
            w.analysis_weight / k.w_scale as w
        from {{ ref('int_respondents') }} as r
        inner join {{ ref('int_respondent_weights') }} as w using (instrument, school_year, term, respondent_key)
        inner join {{ ref('int_school_weight_scales') }} as k using (instrument, school_year, term, school_id)
        where {{ in_changed_partitions('r.school_year', 'r.term') }}
    )
),

cells as (
    select distinct cell_id, instrument, school_year, term, school_id, grade_band, sample, w_scale from respondents
),

sums as (  -- the response rows summed on narrow keys: a cell number, the item, the category
    select r.cell_id, u.item_no, u.category, count(*) as n, {{ exact_sum_split('r.w') }} as w_sum,
        {{ exact_sum_split('r.w2') }} as w2_sum
    from {{ ref('int_responses_unpivoted') }} as u
    inner join respondents as r using (submission_id)
    group by all
)

select c.instrument, c.school_year, c.term, i.item_id, c.school_id, c.grade_band, c.sample, s.category,
    s.n, c.w_scale, s.w_sum, s.w2_sum
from sums as s
inner join cells as c using (cell_id)
inner join {{ ref('int_item_numbers') }} as i using (item_no)
