-- Grain: one row per school x instrument x school year x term with respondents: the school's sample and
-- grade band that term (the most frequent, ties to the smaller value, so a stray event cannot move it)
-- and its counted respondents. The parent groups of the disclosure rules: a school's cells are children
-- of its sample x grade band cells in the group-level marts.
select
    school_id,
    instrument,
    school_year,
    term,
    mode(sample order by sample) as sample,
    mode(grade_band order by grade_band) as grade_band,
    count(*) as n_respondents
from {{ ref('int_respondents') }}
group by all
