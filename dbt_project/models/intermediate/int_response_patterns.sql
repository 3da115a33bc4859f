-- depends_on: {{ ref('items') }}
-- Grain: one row per validated submission (both instruments): what its answers look like, for the
-- response-quality checks (int_response_quality). Read from the wide staging rows (one pass, no
-- long form): n_answered items; is_same_answer when every answered item has the same category (least =
-- greatest over the items: DuckDB's least and greatest skip nulls); content_hash: the md5 of the whole
-- answer vector, skips included.
{%- for instrument in ['teacher', 'student'] %}
{%- set items = item_ids(instrument) %}
select
    submission_id,
    instrument,
    {% if items -%}
    {% for i in items %}({{ i }} is not null)::int{{ ' + ' if not loop.last }}{% endfor %} as n_answered,
    least({{ items | join(', ') }}) = greatest({{ items | join(', ') }}) as is_same_answer,
    md5(concat_ws('|', {% for i in items %}coalesce({{ i }}::varchar, '-'){{ ', ' if not loop.last }}{% endfor %}))
        as content_hash
    {%- else -%}
    0 as n_answered, false as is_same_answer, null::varchar as content_hash
    {%- endif %}
from {{ ref('stg_lake__' ~ instrument ~ '_submissions') }}
{{ 'union all' if not loop.last }}
{%- endfor %}
