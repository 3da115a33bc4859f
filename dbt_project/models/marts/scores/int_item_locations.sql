{{ config(schema='intermediate', materialized='view') }}
-- Grain: one row per calibration id x instrument x scaled component x item: the item's location (mean of
-- its step thresholds, logits, on the calibration's own origin) with its SE and fit, from the thresholds
-- table (which repeats them on each step row).
select
    calibration_id, instrument, component, item_id,
    any_value(location) as location,
    any_value(location_se) as location_se,
    any_value(infit_msq) as infit_msq,
    any_value(outfit_msq) as outfit_msq,
    any_value(n_responses) as n_responses
from {{ ref('stg_scoring__item_bank_thresholds') }}
group by calibration_id, instrument, component, item_id
