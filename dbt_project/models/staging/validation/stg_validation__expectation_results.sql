-- Grain: one row per validation run x raw file x expectation.
with source as (
    select * from {{ source('validation', 'expectation_results') }}
),

renamed as (
    select
        cast(run_id as varchar) as validation_run_id,
        cast(validated_at as timestamptz) as validated_at,
        cast(file_path as varchar) as file_path,
        cast(instrument as varchar) as instrument,
        cast(school_year as varchar) as school_year,
        cast(term as varchar) as term,
        cast(suite_name as varchar) as suite_name,
        cast(suite_sha256 as varchar) as suite_sha256,
        cast(check_name as varchar) as check_name,
        cast(expectation_type as varchar) as expectation_type,
        cast(column_name as varchar) as column_name,
        cast(success as boolean) as is_success,
        cast(element_count as bigint) as element_count,
        cast(unexpected_count as bigint) as unexpected_count,
        cast(unexpected_percent as double) as unexpected_percent,
        cast(sample_unexpected_values as varchar) as sample_unexpected_values
    from source
)

select * from renamed
