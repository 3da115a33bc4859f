{{ config(materialized='view') }}
-- Grain: one row per counted submission x item, with the respondent's analysis weight and reporting
-- groups. Skipped items keep a null category: estimates are among those who answered, and skipping
-- respondents still count as design units (schools) in the standard errors, as R's na.rm = TRUE does.
-- A view: its readers sum it (int_school_item_sums, int_school_subgroup_sums) or count it, each once,
-- so writing its rows (a table of every response) would cost more than the join it saves.
with responses as (  -- the item's id from its number
    select u.submission_id, i.item_id, u.category
    from {{ ref('int_responses_unpivoted') }} as u
    inner join {{ ref('int_item_numbers') }} as i using (item_no)
),

respondents as (
    select * from {{ ref('int_respondents') }}
),

weights as (
    select * from {{ ref('int_respondent_weights') }}
)

select
    respondents.instrument,
    respondents.school_year,
    respondents.term,
    respondents.respondent_key,
    respondents.school_id,
    respondents.grade_band,
    respondents.sample,
    respondents.race_ethnicity,
    respondents.parent_education,
    responses.item_id,
    responses.category,
    weights.analysis_weight
from responses
inner join respondents
    on responses.submission_id = respondents.submission_id
inner join weights
    on weights.instrument = respondents.instrument
    and weights.school_year = respondents.school_year
    and weights.term = respondents.term
    and weights.respondent_key = respondents.respondent_key
