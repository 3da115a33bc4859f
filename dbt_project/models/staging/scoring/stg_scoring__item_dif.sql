-- Grain: one row per calibration x instrument x component x grouping x item x focal group.
-- Columns and types are defined once, in scoring_jobs/tables.py (the jobs' Parquet files in the lake,
-- each table with a schema file written before every dbt build); staging passes them through unchanged.
select * from {{ source('scoring', 'item_dif') }}
