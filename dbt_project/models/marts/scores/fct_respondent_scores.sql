{{ config(schema='restricted', materialized='parquet_extract',
    location=env_var('LEAP_RESTRICTED_DIR') ~ '/respondent_scores.parquet') }}
-- Grain: one row per counted respondent x instrument x school year x term x scaled component.
-- Respondent-level, so it lives in the restricted zone: its own file,
-- $LEAP_DATA_DIR/restricted/respondent_scores.parquet (leap/layout.py), with a view over it in the
-- warehouse's `restricted` schema. Neither is ever published or exported (dbt_project/publish.py copies
-- the `marts` schema only); the marts aggregate it.
-- The scoring job's person measures with the respondent's analysis weight (int_respondent_weights).
select
    s.instrument,
    s.instrument_version,
    s.school_year,
    s.term,
    s.component,
    s.calibration_id,
    s.submission_id,
    s.respondent_key,
    s.school_id,
    s.grade_band,
    s.sample,
    s.n_scale_items,
    s.n_answered,
    s.raw_score,
    s.is_scored,
    s.not_scored_reason,
    s.theta,
    s.theta_se,
    s.scaled_score,
    s.scaled_se,
    s.level,
    s.level_order,
    s.is_outside_reporting_range,
    s.infit_msq,
    s.outfit_msq,
    s.is_misfitting,
    s.classification_accuracy,
    s.classification_consistency,
    w.analysis_weight
from {{ ref('stg_scoring__respondent_scores') }} as s
left join {{ ref('int_respondent_weights') }} as w
    on s.instrument = w.instrument and s.school_year = w.school_year and s.term = w.term
    and s.respondent_key = w.respondent_key
