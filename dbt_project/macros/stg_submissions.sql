{#- Staging for one instrument's submissions: renaming and casting only (items stay wide). -#}
{% macro stg_submissions(instrument) -%}
with source as (
    select * from {{ source('lake', instrument ~ '_submissions') }}
    -- Files written before classroom_ids (or duration_seconds) existed lack the column.
    -- read_parquet(union_by_name) fills it with NULL when some file has it; this empty branch supplies
    -- it when none does.
    union all by name
    select cast(null as varchar[]) as classroom_ids, cast(null as double) as duration_seconds where false
),

renamed as (
    select
        cast(submission_id as varchar) as submission_id,
        cast(instrument as varchar) as instrument,
        cast(instrument_version as varchar) as instrument_version,
        cast(school_id as varchar) as school_id,
        cast(respondent_key as varchar) as respondent_key,
        cast(school_year as varchar) as school_year,
        cast(term as varchar) as term,
        cast(submitted_at as timestamptz) as submitted_at,
        cast(grade_band as varchar) as grade_band,
        cast(sample as varchar) as sample,
        cast(region as varchar) as region,
        cast(urbanicity as varchar) as urbanicity,
        cast(grade as smallint) as grade,
        cast(gender as varchar) as gender,
        cast(race_ethnicity as varchar) as race_ethnicity,
        cast(parent_education as varchar) as parent_education,
        cast(classroom_ids as varchar[]) as classroom_ids,
        cast(weight as double) as external_weight,
        cast(duration_seconds as double) as duration_seconds,
        cast(kafka_partition as integer) as kafka_partition,
        cast(kafka_offset as bigint) as kafka_offset,
        cast(ingested_at as timestamptz) as ingested_at,
        {%- for item in item_ids(instrument) %}
        cast({{ item }} as tinyint) as {{ item }}{{ "," if not loop.last }}
        {%- endfor %}
    from source
),

-- One row per submission_id. Ingestion stores an id once across partitions (its registry), so this
-- keeps nothing out in normal operation; should a copy slip into the lake anyway (a lake restored
-- from two backups, files copied in by hand), the first one landed counts and the build goes on.
-- The source's unique test (severity warn) still reports it.
deduplicated as (
    select * from renamed
    qualify row_number() over (
        partition by submission_id order by ingested_at, kafka_partition, kafka_offset
    ) = 1
)

select * from deduplicated
{%- endmacro %}
