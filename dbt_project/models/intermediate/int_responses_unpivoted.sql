{{ config(materialized='incremental', incremental_strategy='append', on_schema_change='fail',
          pre_hook="{{ delete_changed_partitions() }}") }}
-- Incremental by school year x term (macros/partitions.sql): a build passed var('partitions') rebuilds
-- those partitions only.
-- depends_on: {{ ref('items') }}
-- Grain: one row per counted submission x item (long form), skipped items included with a null category.
with latest as (
    select submission_id from {{ ref('int_submissions_counted') }} where {{ in_changed_partitions() }}
),

{% for instrument in ['teacher', 'student'] %}
{{ instrument }}_wide as (
    select submission_id, instrument, instrument_version, school_year, term, {{ item_ids(instrument) | join(', ') }}
    from {{ ref('stg_lake__' ~ instrument ~ '_submissions') }}
    where {{ in_changed_partitions() }} and submission_id in (select submission_id from latest)
),

{{ instrument }}_long as (
    from {{ instrument }}_wide
    unpivot include nulls (category for item_id in ({{ item_ids(instrument) | join(', ') }}))
),

{% endfor %}
unioned as (
    select * from teacher_long
    union all by name
    select * from student_long
)

select
    submission_id,
    instrument,
    instrument_version,
    school_year,
    term,
    item_id,
    cast(category as tinyint) as category,
    category is null as is_skipped
from unioned
