-- Grain: one row per validation day x instrument x suite version x check.
-- How many raw files each check saw and failed, for data-quality reporting over time.
with results as (
    select * from {{ ref('stg_validation__expectation_results') }}
)

select
    cast(validated_at as date) as validation_date,
    instrument,
    suite_name,
    suite_sha256,
    check_name,
    expectation_type,
    count(distinct file_path) as n_files,
    count(distinct file_path) filter (where not is_success) as n_files_failed,
    sum(unexpected_count) as unexpected_values,
    1.0 * count(distinct file_path) filter (where is_success) / count(distinct file_path) as pass_rate
from results
group by all
