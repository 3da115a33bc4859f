{#- Item ids of an instrument, from the seeded instrument definition (compile-time query). -#}
{% macro item_ids(instrument) -%}
    {%- if execute -%}
        {%- set rows = run_query("select distinct item_id from " ~ ref('items') ~ " where instrument = '" ~ instrument ~ "' order by item_id") -%}
        {{- return(rows.columns[0].values()) -}}
    {%- else -%}
        {{- return([]) -}}
    {%- endif -%}
{%- endmacro %}
