-- depends_on: {{ source('scoring', 'respondent_scores') }}
-- Grain: one row per counted respondent x instrument x school year x term x scale (component).
-- Reads as empty when the scoring jobs have not created the table yet.
{%- set rel = adapter.get_relation(database=target.database, schema='scoring', identifier='respondent_scores') if execute else none %}
{% if rel is not none %}
select
    calibration_id, instrument, instrument_version, school_year, term, component, submission_id,
    respondent_key, school_id, grade_band, sample, n_scale_items, n_answered, raw_score, is_scored,
    not_scored_reason, theta, theta_se, scaled_score, scaled_se, level, level_order
from {{ rel }}
{% else %}
select
    null::varchar as calibration_id, null::varchar as instrument, null::varchar as instrument_version,
    null::varchar as school_year, null::varchar as term, null::varchar as component,
    null::varchar as submission_id, null::varchar as respondent_key, null::varchar as school_id,
    null::varchar as grade_band, null::varchar as sample, null::integer as n_scale_items,
    null::integer as n_answered, null::double as raw_score, null::boolean as is_scored,
    null::varchar as not_scored_reason, null::double as theta, null::double as theta_se,
    null::double as scaled_score, null::double as scaled_se, null::varchar as level,
    null::integer as level_order
where false
{% endif %}
