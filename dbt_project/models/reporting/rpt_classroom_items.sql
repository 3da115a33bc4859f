{{ config(schema='reporting') }}
-- Grain: one row per school x classroom x instrument x school year x term x item: the classroom view of
-- a school report. Teacher rows: the classroom indicators (items.is_classroom_indicator) as reported by
-- the teachers who report on that classroom (a teacher lists every section they teach, so counts
-- overlap across classrooms); student rows: every item, from the students of the classroom (the cells
-- are summed in int_classroom_item_sums). top_box_pct = percent at or above the item's top_box_min
-- among those who answered (unweighted: within a school the analysis weights are equal). Respondents
-- without a classroom form the classroom_id '(none)' cell, so that they count in the disclosure rule.
-- Lives in the warehouse's `reporting` schema: never published, never exported as data; it appears
-- only in the report of its own school. A cell is hidden when fewer than var('min_classroom_n')
-- answered (fewer_than_min_n), when the school's own cell of the item is hidden (school_hidden:
-- fct_school_item_top_box), or complementary: the classrooms are children of the school's cell.
with cells as (  -- the classroom cells, summed in int_classroom_item_sums
    select school_id, classroom_id, instrument, school_year, term, item_id, n_respondents,
        100.0 * (n_top_box::double / n_respondents) as pct,
        category_sum::double / n_respondents as mean_cat
    from {{ ref('int_classroom_item_sums') }}
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
