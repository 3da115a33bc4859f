{{ config(schema='restricted', materialized='external',
    location=env_var('LEAP_RESTRICTED_DIR') ~ '/respondent_scores.parquet') }}
-- Grain: one row per counted respondent x instrument x school year x term x scaled component.
-- Respondent-level, so it lives in the restricted zone: its own file,
-- $LEAP_DATA_DIR/restricted/respondent_scores.parquet (leap/layout.py), with a view over it in the
-- warehouse's `restricted` schema. Neither is ever published or exported (dbt_project/publish.py copies
-- the `marts` schema only). The rows are int_respondent_scores (the scoring job's person measures with
-- the respondent's analysis weight), which the marts aggregate, so that they do not wait for this file.
select * from {{ ref('int_respondent_scores') }}
