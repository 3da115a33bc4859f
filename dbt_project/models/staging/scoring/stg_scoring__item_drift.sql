-- depends_on: {{ source('scoring', 'item_drift') }}
-- Grain: one row per instrument x school year x term x component x item (calibration id carried).
{%- set rel = adapter.get_relation(database=target.database, schema='scoring', identifier='item_drift') if execute else none %}
{% if rel is not none %}
select
    calibration_id, instrument, school_year, term, component, item_id, n_responses, anchored_location,
    displacement, infit_msq, outfit_msq, n_unscorable_responses, drift_threshold, is_drifting
from {{ rel }}
{% else %}
select
    null::varchar as calibration_id, null::varchar as instrument, null::varchar as school_year,
    null::varchar as term, null::varchar as component, null::varchar as item_id, null::bigint as n_responses,
    null::double as anchored_location, null::double as displacement, null::double as infit_msq,
    null::double as outfit_msq, null::bigint as n_unscorable_responses,
    null::double as drift_threshold, null::boolean as is_drifting
where false
{% endif %}
