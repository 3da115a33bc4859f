{#- A read_parquet() over one instrument's files in a lake zone (Hive layout, columns inside files). -#}
{% macro lake_files(zone, instrument) -%}
    read_parquet('{{ var("lake_root") }}/{{ zone }}/instrument={{ instrument }}/*/*/*.parquet',
                 union_by_name = true, hive_partitioning = false, filename = true)
{%- endmacro %}

{#- Item ids of an instrument, from the seeded instrument definition (compile-time query). -#}
{% macro item_ids(instrument) -%}
    {%- if execute -%}
        {%- set rows = run_query("select distinct item_id from " ~ ref('items') ~ " where instrument = '" ~ instrument ~ "' order by item_id") -%}
        {{- return(rows.columns[0].values()) -}}
    {%- else -%}
        {{- return([]) -}}
    {%- endif -%}
{%- endmacro %}
