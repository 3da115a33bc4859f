-- Grain: one row per instrument x school year x term x component x item (calibration id carried).
-- Columns and types are defined once, in scoring_jobs/tables.py (the jobs create the table before
-- every dbt build); staging passes them through unchanged.
select * from {{ source('scoring', 'item_drift') }}
