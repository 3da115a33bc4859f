-- Grain: one row per instrument x school year x term x sample: how many counted submissions the
-- response-quality checks flagged and kept out of the estimates (int_response_quality). Counts only;
-- no estimate. int_response_quality has a row per latest submission and its sample and school, so this
-- reads it alone (a join to the view int_submissions_latest re-ran the dedup window: 2 s at a million).
select
    instrument, school_year, term, sample,
    count(*) as n_submissions,
    count(*) filter (where is_straightlined) as n_straightlined,
    count(*) filter (where is_straightline_batch) as n_excluded_straightline_batch,
    count(*) filter (where is_duplicate_content) as n_excluded_duplicate_content,
    count(*) filter (where duration_seconds is not null) as n_with_duration,
    count(*) filter (where is_too_fast) as n_too_fast,
    count(*) filter (where is_excluded) as n_excluded,
    count(distinct school_id) filter (where is_excluded) as n_schools_with_exclusions
from {{ ref('int_response_quality') }}
group by all
