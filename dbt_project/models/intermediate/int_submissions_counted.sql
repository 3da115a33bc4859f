-- Grain: one row per respondent x instrument x school year x term: the submissions every estimate
-- counts, that is the latest one of each respondent (int_submissions_latest) unless the
-- response-quality checks keep it out (int_response_quality: duplicate content, a batch of
-- straight-liners). int_respondents and int_responses_unpivoted read this set, so nothing downstream
-- sees an excluded submission.
select l.*
from {{ ref('int_submissions_latest') }} as l
where l.submission_id not in (select submission_id from {{ ref('int_response_quality') }} where is_excluded)
