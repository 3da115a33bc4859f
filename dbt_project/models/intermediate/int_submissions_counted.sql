-- Grain: one row per respondent x instrument x school year x term: the submissions every estimate
-- counts, that is the latest one of each respondent (int_submissions_latest) unless the
-- response-quality checks keep it out (int_response_quality: duplicate content, a batch of
-- straight-liners, too fast). int_respondents reads this set, and every model downstream reads
-- int_respondents, so nothing downstream sees an excluded submission.
-- int_response_quality already has a row per latest submission (and its n_submissions_in_term): the
-- rest of the submission's columns are joined back from the lake by submission_id (unique, tested on
-- int_submissions_unioned) instead of running the dedup window of int_submissions_latest a second
-- time (int_respondents is on the build's longest chain; at a million submissions ~0.1 s and 0.2 CPU-s
-- less, within the host's noise: BENCHMARKS.md, session 24).
select u.*, q.n_submissions_in_term
from {{ ref('int_response_quality') }} as q
inner join {{ ref('int_submissions_unioned') }} as u using (submission_id)
where not q.is_excluded
