{{ config(materialized='incremental', incremental_strategy='append', on_schema_change='fail',
          pre_hook="{{ delete_changed_partitions(by_submission_of=ref('int_submissions_unioned')) }}") }}
-- Incremental by school year x term (macros/partitions.sql): a build passed var('partitions') rebuilds
-- those partitions only (deleted by their submissions: the rows do not carry the term).
-- depends_on: {{ ref('items') }}
-- Grain: one row per counted submission x item (long form), skipped items included with a null category.
-- Narrow: the submission, its instrument, the item and the answer. The school year, term and instrument
-- version are the submission's (int_respondents); written on each of its ~25 rows they were a third of
-- this model's time (each text column costs DuckDB ~1.7 s per 25 M rows written, at a million submissions).
with latest as (
    select submission_id from {{ ref('int_submissions_counted') }} where {{ in_changed_partitions() }}
),

{% for instrument in ['teacher', 'student'] %}
{{ instrument }}_wide as (
    select submission_id, instrument, {{ item_ids(instrument) | join(', ') }}
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
    item_id,
    cast(category as tinyint) as category,
    category is null as is_skipped
from unioned
