{{ config(materialized='incremental', incremental_strategy='append', on_schema_change='fail',
          pre_hook="{{ delete_changed_partitions() }}") }}
-- Incremental by school year x term (macros/partitions.sql): a build passed var('partitions') rebuilds
-- those partitions only.
-- Materialized: seven models and the scoring jobs read it. The answered-items count comes from the wide
-- rows (int_response_quality's n_answered, int_response_patterns), not from a group-by of the long form.
-- Grain: one row per respondent x instrument x school year x term (the counted submission),
-- with the school, grade band, sample, raking variables, class sections and the supplied weight.
-- Demographics are free text on the way in: a value outside the instrument's vocabulary
-- (demographic_levels.csv, after trimming and lower-casing) becomes 'other_unknown', so that nothing
-- a respondent typed (a formula, SQL, a newline) is ever published as a subgroup level.
with latest as (  -- the counted submissions: without those the response-quality checks keep out
    select * from {{ ref('int_submissions_counted') }} where {{ in_changed_partitions() }}
),

answered as (  -- the items answered, of the instrument's items (the columns the response sums count)
    select q.submission_id, q.n_answered::bigint as n_items_answered, i.n_items
    from {{ ref('int_response_quality') }} as q
    inner join (
        select instrument, count(distinct item_id) as n_items from {{ ref('items') }} group by instrument
    ) as i using (instrument)
    where {{ in_changed_partitions('q.school_year', 'q.term') }}
),

samples as (
    select sample, has_external_weights from {{ ref('samples') }}
)

select
    latest.instrument,
    latest.school_year,
    latest.term,
    latest.respondent_key,
    latest.submission_id,
    latest.school_id,
    latest.grade_band,
    latest.sample,
    latest.region,
    latest.urbanicity,
    latest.grade,
    {{ demographic_level('latest.gender', 'gender') }} as gender,
    {{ demographic_level('latest.race_ethnicity', 'race_ethnicity') }} as race_ethnicity,
    {{ demographic_level('latest.parent_education', 'parent_education') }} as parent_education,
    latest.classroom_ids,
    latest.external_weight,
    samples.has_external_weights and latest.external_weight is not null as has_external_weight,
    latest.n_submissions_in_term,
    answered.n_items_answered,
    answered.n_items,
    latest.submitted_at
from latest
left join answered using (submission_id)
left join samples using (sample)
