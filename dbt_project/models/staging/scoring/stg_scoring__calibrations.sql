-- depends_on: {{ source('scoring', 'item_bank_calibrations') }}
-- Grain: one row per calibration id x instrument x scaled component (the versioned item bank header).
{%- set rel = adapter.get_relation(database=target.database, schema='scoring', identifier='item_bank_calibrations') if execute else none %}
{% if rel is not none %}
select
    calibration_id, instrument, instrument_version, component, model, reference_school_year,
    reference_term, n_persons, n_items, reliability, scale_intercept, scale_slope, cut_scores_version,
    cut_moderate_low, cut_moderate_high, cut_high, created_at
from {{ rel }}
{% else %}
select
    null::varchar as calibration_id, null::varchar as instrument, null::varchar as instrument_version,
    null::varchar as component, null::varchar as model, null::varchar as reference_school_year,
    null::varchar as reference_term, null::bigint as n_persons, null::integer as n_items,
    null::double as reliability, null::double as scale_intercept, null::double as scale_slope,
    null::varchar as cut_scores_version, null::double as cut_moderate_low, null::double as cut_moderate_high,
    null::double as cut_high, null::timestamptz as created_at
where false
{% endif %}
