{#-
  Models incremental by school year x term, configured
      materialized='incremental', incremental_strategy='append', on_schema_change='fail',
      pre_hook="{{ delete_changed_partitions() }}"
  and filtering their input with in_changed_partitions(). The orchestrator
  (leap.orchestration.freshness) passes the partitions whose validated files changed since the last build as var('partitions'), a list of
  '<school_year>/<term>'; an incremental model then deletes those partitions (pre-hook
  delete_changed_partitions) and appends them rebuilt (filter in_changed_partitions), leaving the others
  untouched. Without the var (a plain `dbt build`) every partition is rebuilt; with --full-refresh, or
  when the table does not exist yet, the model is created from scratch. A partition whose files all
  disappeared is not deleted by a partition build: the orchestrator then runs --full-refresh.
  The Python models (the response sums) cannot call a macro: they get the var as their config
  ``changed_partitions`` (dbt_project.yml) and filter with dbt_project.pymodels.partition_condition, the
  same rule; their pre-hook is delete_changed_partitions().
-#}

{% macro _changed_partition_keys() -%}
    {%- set parts = var('partitions', none) -%}
    {%- if parts is none -%}none{%- elif parts | length == 0 -%}empty{%- else -%}
    {%- for p in parts %}'{{ p }}'{{ ', ' if not loop.last }}{% endfor -%}
    {%- endif -%}
{%- endmacro %}

{# A condition on a relation's school_year and term columns: its rows in a changed partition. #}
{% macro in_changed_partitions(school_year='school_year', term='term') -%}
    {%- set keys = _changed_partition_keys() -%}
    {%- if not is_incremental() or keys == 'none' -%}true
    {%- elif keys == 'empty' -%}false
    {%- else -%}({{ school_year }} || '/' || {{ term }}) in ({{ keys }})
    {%- endif -%}
{%- endmacro %}

{% macro delete_changed_partitions() -%}
    {%- if is_incremental() -%}
    delete from {{ this }} where {{ in_changed_partitions() }}
    {%- else -%}
    select 1
    {%- endif -%}
{%- endmacro %}
