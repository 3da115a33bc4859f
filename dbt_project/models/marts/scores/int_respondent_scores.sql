{{ config(schema='intermediate', materialized='view') }}
-- Grain: one row per counted respondent x instrument x school year x term x scaled component: the scoring
-- job's person measures (the scoring lake files, stg_scoring__respondent_scores) with the respondent's
-- analysis weight (int_respondent_weights). What the score marts aggregate, and what the restricted
-- extract fct_respondent_scores writes out. A view, so that the marts do not wait for that extract:
-- the join reads in under a second at a million submissions, where writing the extract's Parquet file
-- took 9.7 s at the head of the scoring step's dbt run. Stores nothing: the rows stay in the lake
-- files and the restricted zone.
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
