-- int_responses_unpivoted has one row per counted submission x item of its instrument, checked by counts:
-- per instrument, its rows = counted submissions x the instrument's items. The unpivot makes one row per
-- item column of a wide row and the columns are distinct, so this is the uniqueness of (submission_id,
-- item_no) without grouping every response row: at ten million submissions that group-by (350 M keys)
-- ran out of DuckDB's 2 GB; a count is streamed. The counted submissions are int_respondents' (the
-- table the long form reads them from; the view int_submissions_counted would re-run the dedup window).
-- Rows returned = a failure.
-- Run beside the build, not in its longest chain: the depends_on below makes the test wait for
-- fct_group_comparisons (a leaf of the national branch), so dbt does not hold the long form's children
-- for it (dbt adds a test -> child edge only for children of every node a test reads). A failure still
-- fails the build, and a failed build publishes nothing.
-- depends_on: {{ ref('items') }}
-- depends_on: {{ ref('fct_group_comparisons') }}
with expected as (
    {%- for instrument in ['teacher', 'student'] %}
    select '{{ instrument }}' as instrument, count(*) * {{ item_ids(instrument) | length }} as n_rows
    from {{ ref('int_respondents') }}
    where instrument = '{{ instrument }}'
    {{ "union all" if not loop.last }}
    {%- endfor %}
),

actual as (  -- the rows per item number, then per instrument
    select i.instrument, sum(u.n_rows) as n_rows
    from (select item_no, count(*) as n_rows from {{ ref('int_responses_unpivoted') }} group by item_no) as u
    inner join {{ ref('int_item_numbers') }} as i using (item_no)
    group by i.instrument
)

select instrument, e.n_rows as expected_rows, a.n_rows as actual_rows
from expected as e
full join actual as a using (instrument)
where e.n_rows is distinct from a.n_rows
