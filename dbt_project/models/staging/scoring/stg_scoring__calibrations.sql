-- Grain: one row per calibration id x instrument x scaled component (the versioned item bank header).
-- Columns and types are defined once, in scoring_jobs/tables.py (the jobs' Parquet files in the lake,
-- each table with a schema file written before every dbt build); staging passes them through unchanged.
select * from {{ source('scoring', 'item_bank_calibrations') }}
