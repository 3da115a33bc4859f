-- Grain: one row per school. Attributes as last reported (latest submission wins).
with respondents as (
    select * from {{ ref('int_respondents') }}
),

latest_attributes as (
    select
        school_id,
        arg_max(sample, submitted_at) as sample,
        arg_max(grade_band, submitted_at) as grade_band,
        arg_max(region, submitted_at) as region,
        arg_max(urbanicity, submitted_at) as urbanicity,
        min(submitted_at) as first_submission_at,
        max(submitted_at) as last_submission_at,
        count(distinct school_year || '/' || term) as n_administrations
    from respondents
    group by school_id
)

select * from latest_attributes
