{{ config(materialized='table') }}  -- read by int_submissions_counted for two models and by a mart: computed once per build
-- Grain: one row per counted submission (int_submissions_latest): response-quality flags, and whether
-- the submission is kept out of every estimate (is_excluded; int_respondents drops it). Rules, each
-- about a pattern a real respondent does not produce, judged only on submissions answering at least
-- var('pattern_min_items') items (short vectors coincide by chance):
--   duplicate_content  the same answer vector (skips included) as an earlier counted submission of
--                      another respondent of the same school, instrument and term: content re-sent
--                      under new ids. The first one (submitted, then landed) stays. Same-answer vectors are left to the next rule
--                      (two genuine "all 4" respondents coincide by nature).
--   straightline_batch every answer the same category, in a school whose straight-liners that term
--                      are at least var('straightline_batch_share') of its submissions and at least
--                      var('straightline_batch_min'): a batch of them, not a few enthusiastic (or
--                      bored) respondents, who are flagged (is_straightlined) but kept.
--   too_fast           answered faster than var('min_seconds_per_item') seconds per answered item
--                      (duration_seconds, when the front end sent it): too fast to have read the
--                      items. 2 s per item is the speeding rule of Huang et al. (2012, J. Bus.
--                      Psychol. 27:99-114) and of Zhang & Conrad (2014, Surv. Res. Methods 8:127-135)
--                      for web surveys; no duration, no judgement.
-- The neighbours of a flagged submission (its file, its school) are not affected.
{%- set min_items = var('pattern_min_items') %}
with counted as (
    select l.submission_id, l.instrument, l.school_year, l.term, l.school_id, l.sample, l.respondent_key, l.submitted_at,
        l.ingested_at, l.kafka_partition, l.kafka_offset, l.duration_seconds, l.n_submissions_in_term,
        p.n_answered, p.n_answered >= {{ min_items }} and p.is_same_answer as is_straightlined,
        coalesce(p.n_answered >= {{ min_items }}
            and l.duration_seconds < {{ var('min_seconds_per_item') }} * p.n_answered, false) as is_too_fast,
        p.content_hash
    from {{ ref('int_submissions_latest') }} as l
    inner join {{ ref('int_response_patterns') }} as p using (submission_id, instrument)
),

judged as (
    select *,
        n_answered >= {{ min_items }} and not is_straightlined and row_number() over (
            partition by instrument, school_year, term, school_id, content_hash
            -- the first submitted, then the first landed (a copy re-sent with the same timestamp came later)
            order by submitted_at, ingested_at, kafka_partition, kafka_offset, submission_id) > 1 as is_duplicate_content,
        count(*) filter (where is_straightlined) over school_term as n_straightlined_in_school,
        count(*) over school_term as n_in_school
    from counted
    window school_term as (partition by instrument, school_year, term, school_id)
),

flagged as (
    select *,
        is_straightlined and n_straightlined_in_school >= {{ var('straightline_batch_min') }}
            and n_straightlined_in_school >= {{ var('straightline_batch_share') }} * n_in_school
            as is_straightline_batch
    from judged
)

select
    submission_id, instrument, school_year, term, school_id, sample, respondent_key, n_submissions_in_term, n_answered,
    duration_seconds, is_straightlined,
    is_duplicate_content, is_straightline_batch, is_too_fast,
    case when is_duplicate_content then 'duplicate_content' when is_straightline_batch then 'straightline_batch'
        when is_too_fast then 'too_fast'
    end as exclusion_reason,
    is_duplicate_content or is_straightline_batch or is_too_fast as is_excluded
from flagged
