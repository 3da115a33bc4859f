{#-
  materialized='parquet_extract', location='<file>.parquet': the model's rows written to one Parquet file by
  a single streaming `copy (<the model's select>) to <location>`, and a view over that file under the
  model's name (for the restricted zone's respondent-level extracts, leap/layout.py).

  Why not dbt-duckdb's `external`: it creates a table in the warehouse file first and then copies the table
  to the file. At a million submissions the restricted score extract (2.9 M rows) spent 6.0 s writing that
  table and 3.7 s copying it, at the head of the scoring step's dbt run while the other dbt thread waited
  for it; one copy from the query writes the same file in ~4.7 s (BENCHMARKS.md, "Shorter waits in the calibration and scoring steps").
  The copy goes to a temporary file renamed over the old one (use_tmp_file), so a failed build leaves the
  previous extract whole. An empty result is a file with the columns and no rows.
-#}
{% materialization parquet_extract, adapter='duckdb' %}
  {%- set location = config.require('location') -%}
  {%- set target_relation = this.incorporate(type='view') -%}
  {%- set existing_relation = load_cached_relation(this) -%}

  {{ run_hooks(pre_hooks, inside_transaction=False) }}
  {{ run_hooks(pre_hooks, inside_transaction=True) }}

  {% call statement('write_file') -%}
    copy ({{ compiled_code }}) to '{{ location }}' (format parquet, use_tmp_file true)
  {%- endcall %}

  {%- if existing_relation is not none and existing_relation.type != 'view' %}
    {{ drop_relation_if_exists(existing_relation) }}
  {%- endif %}
  {% call statement('main') -%}
    create or replace view {{ target_relation }} as select * from read_parquet('{{ location }}')
  {%- endcall %}

  {{ run_hooks(post_hooks, inside_transaction=True) }}
  {% do persist_docs(target_relation, model) %}
  {{ adapter.commit() }}
  {{ run_hooks(post_hooks, inside_transaction=False) }}

  {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}
