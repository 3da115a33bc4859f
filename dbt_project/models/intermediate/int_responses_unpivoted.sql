{{ config(materialized='incremental', incremental_strategy='append', on_schema_change='fail',
          pre_hook="{{ delete_changed_partitions(by_submission_of=ref('int_submissions_unioned')) }}") }}
-- Incremental by school year x term (macros/partitions.sql): a build passed var('partitions') rebuilds
-- those partitions only (deleted by their submissions: the rows do not carry the term).
-- depends_on: {{ ref('int_item_numbers') }}
-- Grain: one row per counted submission x item (long form), skipped items included with a null category.
-- Narrow: the submission, the item's number (int_item_numbers: its instrument and id) and the answer.
-- The school year, term and instrument version are the submission's (int_respondents); written on each
-- of its ~25 rows they were a third of this model's time, and the instrument and item id as text 2.4 s
-- of its 8.7 s (each text column costs DuckDB ~1.7 s per 25 M rows written, at a million submissions;
-- a number a fraction of that).
-- Stored school by school (the wide rows sorted before the unpivot, which keeps their order): the sums
-- that read this model (int_school_item_sums, int_school_subgroup_sums, int_classroom_item_sums) group
-- by cells within a school, so their hash tables meet each group in one stretch of rows. In arrival
-- order every group recurs through the whole table, and under DuckDB's memory limit each spilled part
-- of a hash table holds it again: at ten million submissions the item and subgroup sums side by side
-- filled ~60 GB of temporary files (sorted: at most 47 GB, the sums' own state being most of it).
-- At a million under 300 MB, 3.4 -> 0.8 GB for the item sums, and the three sums 6 s faster in memory
-- (BENCHMARKS.md). Only the speed and the spill depend on it.
-- The sort takes what memory DuckDB has: built beside int_respondents at ten million submissions, both
-- ran out of the 2 GB they share, so this model reads the counted submissions from int_respondents
-- (cheaper than the view int_submissions_counted) and is built after it. Built on both DuckDB threads
-- (dbt_project.yml, macros/threads.sql: the other dbt thread has little to do meanwhile): 8.1 -> 4.3 s
-- alone at a million.
with latest as (  -- the counted submissions (int_respondents' rows; built first, see above)
    select submission_id from {{ ref('int_respondents') }} where {{ in_changed_partitions() }}
),

{% for instrument in ['teacher', 'student'] %}
{%- set numbers = item_numbers(instrument) %}
{{ instrument }}_wide as (  -- each item's column named by its number, which the unpivot writes for it
    select submission_id, {% for item_id, item_no in numbers %}{{ item_id }} as "{{ item_no }}"{{ ', ' if not loop.last }}{% endfor %}
    from {{ ref('stg_lake__' ~ instrument ~ '_submissions') }}
    where {{ in_changed_partitions() }} and submission_id in (select submission_id from latest)
    order by school_year, term, school_id
),

{{ instrument }}_long as (
    from {{ instrument }}_wide
    unpivot include nulls (category for item_no in ({% for item_id, item_no in numbers %}"{{ item_no }}"{{ ', ' if not loop.last }}{% endfor %}))
),

{% endfor %}
unioned as (
    select * from teacher_long
    union all by name
    select * from student_long
)

select
    submission_id,
    cast(item_no as smallint) as item_no,
    cast(category as tinyint) as category,
    category is null as is_skipped
from unioned
