-- Grain: one row per calibration id x instrument x component x item x step.
-- Columns and types are defined once, in scoring_jobs/tables.py (the jobs create the table before
-- every dbt build); staging passes them through unchanged.
select * from {{ source('scoring', 'item_bank_thresholds') }}
