-- Grain: one row per school x instrument x school year x term with respondents or expected ones.
-- Response rate = counted respondents / expected respondents (the enrolment file); null when no
-- enrolment was supplied. meets_min_response_rate compares it with var('min_response_rate')
-- (5Essentials' rule: a school report counts as representative at 50 % or more); a report below it is
-- marked as such, not withheld. A rate above 100 % (more respondents than the roster) is kept and
-- flagged: the roster is out of date.
with responded as (
    select school_id, instrument, school_year, term, n_respondents
    from {{ ref('int_school_groups') }}
),

expected as (
    select * from {{ ref('stg_inputs__expected_respondents') }}
)

select
    coalesce(r.school_id, e.school_id) as school_id,
    coalesce(r.instrument, e.instrument) as instrument,
    coalesce(r.school_year, e.school_year) as school_year,
    coalesce(r.term, e.term) as term,
    coalesce(r.n_respondents, 0) as n_respondents,
    e.expected_respondents,
    e.expected_respondents is not null as has_enrolment,
    100.0 * coalesce(r.n_respondents, 0) / e.expected_respondents as response_rate_pct,
    coalesce(r.n_respondents, 0) >= {{ var('min_response_rate') }} * e.expected_respondents
        as meets_min_response_rate,
    coalesce(r.n_respondents, 0) > e.expected_respondents as exceeds_enrolment
from responded as r
full outer join expected as e using (school_id, instrument, school_year, term)
