{{ config(materialized='table') }}  -- read by two school marts and the lone-hidden-cell test: each re-ran its window
-- over every school x item (1.0-1.4 s a reader at a million submissions); as a table it runs once
-- Grain: one row per school x instrument x school year x term x item. Whether the school's cell of the
-- item may be shown. Primary: fewer than var('min_cell_n') respondents answered it. Complementary: the
-- school's cells are the children of its sample x grade band cell in fct_item_response_distribution,
-- which publishes counts, so a lone hidden school would be the group minus the others
-- (macros/complementary_suppression.sql).
with cells as (
    select s.school_id, s.instrument, s.school_year, s.term, s.item_id, s.n_respondents,
        g.sample, g.grade_band,
        s.n_respondents < {{ var('min_cell_n') }} as is_primary_suppressed
    from {{ ref('int_school_item_shares') }} as s
    inner join {{ ref('int_school_groups') }} as g using (school_id, instrument, school_year, term)
    where s.is_top_box
),

checked as (
    {{ complementary_suppression('cells',
        ['instrument', 'school_year', 'term', 'item_id', 'sample', 'grade_band'], 'school_id') }}
)

select
    school_id, instrument, school_year, term, item_id, sample, grade_band, n_respondents,
    is_primary_suppressed or is_complementary_suppressed as is_suppressed,
    {{ suppression_reason() }} as suppression_reason
from checked
