{{ config(schema='reporting') }}
-- Grain: one row per school x classroom x instrument x school year x term x item: the classroom view of
-- a school report. Teacher rows: the classroom indicators (items.is_classroom_indicator) as reported by
-- the teachers who report on that classroom (a teacher lists every section they teach, so counts
-- overlap across classrooms); student rows: every item, from the students of the classroom.
-- top_box_pct = percent at or above the item's top_box_min among those who answered (unweighted:
-- within a school the analysis weights are equal). Respondents without a classroom form the
-- classroom_id '(none)' cell, so that they count in the disclosure rule.
-- Lives in the warehouse's `reporting` schema: never published, never exported as data; it appears
-- only in the report of its own school. A cell is hidden when fewer than var('min_classroom_n')
-- answered (fewer_than_min_n), when the school's own cell of the item is hidden (school_hidden:
-- fct_school_item_top_box), or complementary: the classrooms are children of the school's cell.
with classrooms as (  -- per respondent x classroom: the classroom cell's number (narrow key, see below)
    select submission_id,
        dense_rank() over (order by instrument, school_year, term, school_id, classroom_id) as cell_id,
        instrument, school_year, term, school_id, classroom_id
    from (
        select submission_id, instrument, school_year, term, school_id,
            unnest(coalesce(classroom_ids, ['(none)'])) as classroom_id
        from {{ ref('int_respondents') }}
    )
),

cell_keys as (
    select distinct cell_id, instrument, school_year, term, school_id, classroom_id from classrooms
),

responses as (  -- no weights: within a school the analysis weights are equal
    select u.submission_id, u.item_id, u.category, (u.category >= items.top_box_min)::int as is_top_box
    from {{ ref('int_responses_unpivoted') }} as u
    inner join {{ ref('items') }} as items using (instrument, item_id)
    where u.instrument = 'student' or items.is_classroom_indicator
),

sums as (  -- on narrow keys (a number per classroom cell, the item): at ten million submissions the
           -- group-by of 310 M rows on five text keys did not fit DuckDB's memory limit
    select c.cell_id, r.item_id, count(r.category) as n_respondents,
        sum(r.is_top_box) as n_top_box, sum(r.category) as category_sum
    from responses as r
    inner join classrooms as c using (submission_id)
    group by all
    having count(r.category) > 0
),

cells as (
    select k.school_id, k.classroom_id, k.instrument, k.school_year, k.term, s.item_id, s.n_respondents,
        100.0 * (s.n_top_box::double / s.n_respondents) as pct,
        s.category_sum::double / s.n_respondents as mean_cat
    from sums as s
    inner join cell_keys as k using (cell_id)
),

flagged as (
    select c.*, s.is_suppressed as is_school_hidden,
        c.n_respondents < {{ var('min_classroom_n') }} or s.is_suppressed as is_primary_suppressed
    from cells as c
    inner join {{ ref('fct_school_item_top_box') }} as s
        using (school_id, instrument, school_year, term, item_id)
),

checked as (
    {{ complementary_suppression('flagged', ['school_id', 'instrument', 'school_year', 'term', 'item_id'],
        'classroom_id', min_n=var('min_classroom_n')) }}
)

select
    school_id, classroom_id, instrument, school_year, term, item_id, n_respondents,
    is_primary_suppressed or is_complementary_suppressed as is_suppressed,
    case
        when is_school_hidden then 'school_hidden'
        else {{ suppression_reason() }}
    end as suppression_reason,
    case when not (is_primary_suppressed or is_complementary_suppressed) then pct end as top_box_pct,
    case when not (is_primary_suppressed or is_complementary_suppressed) then mean_cat end as mean_category
from checked
