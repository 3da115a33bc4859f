-- Grain: one row per instrument x school year x term x sample: how many counted submissions the
-- response-quality checks flagged and kept out of the estimates (int_response_quality). Counts only;
-- no estimate.
select
    l.instrument, l.school_year, l.term, l.sample,
    count(*) as n_submissions,
    count(*) filter (where q.is_straightlined) as n_straightlined,
    count(*) filter (where q.is_straightline_batch) as n_excluded_straightline_batch,
    count(*) filter (where q.is_duplicate_content) as n_excluded_duplicate_content,
    count(*) filter (where q.duration_seconds is not null) as n_with_duration,
    count(*) filter (where q.is_too_fast) as n_too_fast,
    count(*) filter (where q.is_excluded) as n_excluded,
    count(distinct l.school_id) filter (where q.is_excluded) as n_schools_with_exclusions
from {{ ref('int_submissions_latest') }} as l
inner join {{ ref('int_response_quality') }} as q using (submission_id)
group by all
