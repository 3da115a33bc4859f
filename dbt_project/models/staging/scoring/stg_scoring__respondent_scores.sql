-- Grain: one row per counted respondent x instrument x school year x term x scale (component).
-- Columns and types are defined once, in scoring_jobs/tables.py (the jobs' Parquet files in the lake,
-- each table with a schema file written before every dbt build); staging passes them through unchanged.
select * from {{ source('scoring', 'respondent_scores') }}
