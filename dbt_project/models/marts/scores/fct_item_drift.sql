-- Grain: one row per instrument x school year x term x scaled component x item (with the calibration id
-- the term was scored against). Item drift: how far the term's data move each anchored item location
-- (displacement, logits, with its SE and z), whether that is drift (|displacement| >= drift_threshold
-- and |z| >= 3: scoring_jobs/term_scores.py) and whether the item was therefore dropped from the anchor
-- set, the term then re-scored without it. Item-level: no respondent information.
select
    calibration_id,
    instrument,
    school_year,
    term,
    component,
    item_id,
    n_responses,
    anchored_location,
    displacement,
    displacement_se,
    displacement_z,
    drift_threshold,
    is_drifting,
    is_dropped_from_anchor,
    infit_msq,
    outfit_msq,
    n_unscorable_responses
from {{ ref('stg_scoring__item_drift') }}
