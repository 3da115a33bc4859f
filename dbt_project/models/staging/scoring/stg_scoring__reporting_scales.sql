-- Grain: one row per instrument x scaled component: the fixed 200-300 reporting scale and the reference
-- calibration it was derived from (scoring_jobs/item_bank.py `_link`).
-- Columns and types are defined once, in scoring_jobs/tables.py (the jobs' Parquet files in the lake,
-- each table with a schema file written before every dbt build); staging passes them through unchanged.
select * from {{ source('scoring', 'reporting_scales') }}
