{#- Item ids of an instrument, from the seeded instrument definition (compile-time query). -#}
{% macro item_ids(instrument) -%}
    {%- if execute -%}
        {%- set rows = run_query("select distinct item_id from " ~ ref('items') ~ " where instrument = '" ~ instrument ~ "' order by item_id") -%}
        {{- return(rows.columns[0].values()) -}}
    {%- else -%}
        {{- return([]) -}}
    {%- endif -%}
{%- endmacro %}

{#- An instrument's items as (item_id, item_no) pairs in item id order, item_no from int_item_numbers
    (compile-time query; the long form names its columns by these numbers). -#}
{% macro item_numbers(instrument) -%}
    {%- if execute -%}
        {%- set rows = run_query("select item_id, item_no from " ~ ref('int_item_numbers')
                                 ~ " where instrument = '" ~ instrument ~ "' order by item_id") -%}
        {{- return(rows.rows | map('list') | list) -}}
    {%- else -%}
        {{- return([]) -}}
    {%- endif -%}
{%- endmacro %}
