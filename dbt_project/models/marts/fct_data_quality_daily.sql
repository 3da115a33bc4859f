-- Grain: one row per validation day x instrument x suite version x check.
-- How many raw files each check saw and failed, for data-quality reporting over time. A check can be
-- several expectations (one per item column, say) and a file can be validated twice in a day (a
-- revalidation): each file counts once per check and day, by its last run that day, and it passed the
-- check only when every expectation of the check passed in that run.
with results as (
    select *, cast(validated_at as date) as validation_date
    from {{ ref('stg_validation__expectation_results') }}
),

last_run as (
    select *
    from results
    qualify validated_at = max(validated_at) over (partition by validation_date, file_path, suite_sha256)
),

per_file as (
    -- a check is one expectation type (the unique test of the mart's grain would fail otherwise)
    select validation_date, instrument, suite_name, suite_sha256, check_name, expectation_type, file_path,
        bool_and(is_success) as is_success,
        sum(unexpected_count) as unexpected_count
    from last_run
    group by all
)

select
    validation_date,
    instrument,
    suite_name,
    suite_sha256,
    check_name,
    expectation_type,
    count(*) as n_files,
    count(*) filter (where not is_success) as n_files_failed,
    sum(unexpected_count) as unexpected_values,
    1.0 * count(*) filter (where is_success) / count(*) as pass_rate
from per_file
group by all
