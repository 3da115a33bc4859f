-- Grain: one row per school x school year x term x instrument (the enrolment file, checked on load).
select school_id, school_year, term, instrument, expected_respondents
from {{ source('inputs', 'expected_respondents') }}
