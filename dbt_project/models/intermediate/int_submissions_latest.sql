-- Grain: one row per respondent x instrument x school year x term.
-- When a respondent submitted more than once in a term, the latest submission counts
-- (latest submitted_at; ties broken by the larger submission_id, so the choice is deterministic).
with submissions as (
    select * from {{ ref('int_submissions_unioned') }}
),

ranked as (
    select
        *,
        count(*) over respondent_term as n_submissions_in_term,
        row_number() over (
            respondent_term order by submitted_at desc, submission_id desc
        ) as submission_rank
    from submissions
    window respondent_term as (partition by instrument, school_year, term, respondent_key)
)

select * exclude (submission_rank)
from ranked
where submission_rank = 1
