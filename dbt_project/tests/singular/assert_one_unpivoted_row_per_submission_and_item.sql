-- int_responses_unpivoted has one row per counted submission x item of its instrument, checked by counts:
-- per instrument, its rows = counted submissions x the instrument's items. The unpivot makes one row per
-- item column of a wide row and the columns are distinct, so this is the uniqueness of (submission_id,
-- item_id) without grouping every response row: at ten million submissions that group-by (350 M keys)
-- ran out of DuckDB's 2 GB; a count is streamed. Rows returned = a failure.
-- depends_on: {{ ref('items') }}
with expected as (
    {%- for instrument in ['teacher', 'student'] %}
    select '{{ instrument }}' as instrument, count(*) * {{ item_ids(instrument) | length }} as n_rows
    from {{ ref('int_submissions_counted') }}
    where instrument = '{{ instrument }}'
    {{ "union all" if not loop.last }}
    {%- endfor %}
),

actual as (
    select instrument, count(*) as n_rows from {{ ref('int_responses_unpivoted') }} group by instrument
)

select instrument, e.n_rows as expected_rows, a.n_rows as actual_rows
from expected as e
full join actual as a using (instrument)
where e.n_rows is distinct from a.n_rows
