-- Grain: one row per calibration x instrument x scaled component x item. Invariance of the item locations
-- across calibrations (one per school year's reference term), on the fixed reporting scale: each
-- calibration is linked to the scale's reference calibration through its common items by mean-mean
-- linking (scoring_jobs/item_bank.py `_link`: shift = mean of reference minus new locations, linking error
-- = SD of those differences / sqrt(k)). On the reporting metric an item's location is location +
-- link_shift; its drift from the reference is that minus the reference location (the differences the
-- linking error summarises; they sum to 0 over the common items), with the SE of the two independent
-- estimates and z; and its change from the previous calibration (by reference school year, then term),
-- so a year-over-year table reads down the rows of one item. is_drifting uses the rule of the term drift
-- (fct_item_drift): |drift| >= 0.3 logit and |z| >= 3. Item-level; no respondent information.
with calibrations as (
    select c.calibration_id, c.instrument, c.component, c.reference_school_year, c.reference_term,
        c.reporting_scale_version, c.link_shift, c.linking_error, c.n_link_items, c.created_at,
        s.reference_calibration_id
    from {{ ref('stg_scoring__calibrations') }} as c
    left join {{ ref('stg_scoring__reporting_scales') }} as s using (instrument, component)
),

items as (
    select l.*, c.reference_school_year, c.reference_term, c.reporting_scale_version, c.link_shift,
        c.linking_error, c.n_link_items, c.reference_calibration_id, c.created_at,
        l.location + c.link_shift as linked_location
    from {{ ref('int_item_locations') }} as l
    inner join calibrations as c using (calibration_id, instrument, component)
),

ordered as (
    select i.*, t.term_order
    from items as i
    left join {{ ref('terms') }} as t on t.term = i.reference_term
),

compared as (
    select i.*,
        r.location as reference_location,
        r.location_se as reference_location_se,
        lag(i.calibration_id) over item_history as previous_calibration_id,
        i.linked_location - lag(i.linked_location) over item_history as change_from_previous
    from ordered as i
    left join {{ ref('int_item_locations') }} as r
        on r.calibration_id = i.reference_calibration_id and r.instrument = i.instrument
        and r.component = i.component and r.item_id = i.item_id
    window item_history as (partition by i.instrument, i.component, i.item_id
        order by i.reference_school_year, i.term_order, i.created_at, i.calibration_id)
)

select
    calibration_id,
    instrument,
    component,
    item_id,
    reference_school_year,
    reference_term,
    reporting_scale_version,
    reference_calibration_id,
    calibration_id = reference_calibration_id as is_reference_calibration,
    n_responses,
    location,
    location_se,
    link_shift,
    linking_error,
    n_link_items,
    linked_location,
    reference_location,
    linked_location - reference_location as drift_from_reference,
    case when calibration_id <> reference_calibration_id
        then sqrt(location_se * location_se + reference_location_se * reference_location_se) end as drift_se,
    case when calibration_id <> reference_calibration_id
        then (linked_location - reference_location)
            / sqrt(location_se * location_se + reference_location_se * reference_location_se) end as drift_z,
    coalesce(calibration_id <> reference_calibration_id
        and abs(linked_location - reference_location) >= 0.3
        and abs(linked_location - reference_location)
            / sqrt(location_se * location_se + reference_location_se * reference_location_se) >= 3, false)
        as is_drifting,
    previous_calibration_id,
    change_from_previous,
    infit_msq,
    outfit_msq
from compared
