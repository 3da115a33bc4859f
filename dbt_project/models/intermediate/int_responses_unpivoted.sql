{{ config(materialized='view') }}
-- depends_on: {{ ref('int_item_numbers') }}
-- Grain: one row per counted submission x item (long form), skipped items included with a null category:
-- the responses one by one, for analysts and checks (int_responses_weighted, the tests). A view: no
-- estimate reads it. The response sums (int_school_item_sums, int_school_subgroup_sums,
-- int_classroom_item_sums) count the wide rows directly (weights.cell_sums); written as a table, this
-- form was 25 M rows at a million submissions and the sums three hash aggregations of it (BENCHMARKS.md,
-- "The response sums from the wide rows").
-- Narrow: the submission, the item's number (int_item_numbers: its instrument and id) and the answer.
with latest as (  -- the counted submissions (int_respondents' rows)
    select submission_id from {{ ref('int_respondents') }}
),

{% for instrument in ['teacher', 'student'] %}
{%- set numbers = item_numbers(instrument) %}
{{ instrument }}_wide as (  -- each item's column named by its number, which the unpivot writes for it
    select submission_id, {% for item_id, item_no in numbers %}{{ item_id }} as "{{ item_no }}"{{ ', ' if not loop.last }}{% endfor %}
    from {{ ref('stg_lake__' ~ instrument ~ '_submissions') }}
    where submission_id in (select submission_id from latest)
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
