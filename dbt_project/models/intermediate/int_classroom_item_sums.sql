{{ config(materialized='incremental', incremental_strategy='append', on_schema_change='fail',
          pre_hook="{{ delete_changed_partitions() }}") }}
-- Incremental by school year x term (macros/partitions.sql): a build passed var('partitions') rebuilds
-- those partitions only.
-- Grain: one row per school x classroom x instrument x school year x term x item with an answer: the
-- classroom cells of rpt_classroom_items before any suppression. Teacher rows: the classroom
-- indicators (items.is_classroom_indicator) of the teachers who report on that classroom (a teacher
-- lists every section they teach, so counts overlap across classrooms); student rows: every item, from
-- the students of the classroom. Respondents without a classroom form the classroom_id '(none)' cell.
-- Unweighted (within a school the analysis weights are equal). Apart from the report so that the
-- response rows are summed as soon as int_respondents exists, beside the school sums, and not after the
-- school marts the report's suppression reads (it was the last 10 s of a build at a million).
with classrooms as (  -- per respondent x classroom: the classroom cell's number (narrow key, see below)
    select submission_id,
        dense_rank() over (order by instrument, school_year, term, school_id, classroom_id) as cell_id,
        instrument, school_year, term, school_id, classroom_id
    from (
        select submission_id, instrument, school_year, term, school_id,
            unnest(coalesce(classroom_ids, ['(none)'])) as classroom_id
        from {{ ref('int_respondents') }}
        where {{ in_changed_partitions() }}
    )
),

cell_keys as (
    select distinct cell_id, instrument, school_year, term, school_id, classroom_id from classrooms
),

classroom_items as (  -- per item number: the items a classroom cell sums, with their top box
    select i.item_no, items.top_box_min
    from {{ ref('int_item_numbers') }} as i
    inner join {{ ref('items') }} as items using (instrument, item_id)
    where i.instrument = 'student' or items.is_classroom_indicator
),

responses as (
    select u.submission_id, u.item_no, u.category, (u.category >= items.top_box_min)::int as is_top_box
    from {{ ref('int_responses_unpivoted') }} as u
    inner join classroom_items as items using (item_no)  -- the changed partitions: by the join below
),

sums as (  -- on narrow keys (a number per classroom cell, the item's number): at ten million submissions the
           -- group-by of 310 M rows on five text keys did not fit DuckDB's memory limit
    select c.cell_id, r.item_no, count(r.category) as n_respondents,
        sum(r.is_top_box)::bigint as n_top_box, sum(r.category)::bigint as category_sum
    from responses as r
    inner join classrooms as c using (submission_id)
    group by all
    having count(r.category) > 0
)

select k.school_id, k.classroom_id, k.instrument, k.school_year, k.term, i.item_id, s.n_respondents,
    s.n_top_box, s.category_sum
from sums as s
inner join cell_keys as k using (cell_id)
inner join {{ ref('int_item_numbers') }} as i using (item_no)
