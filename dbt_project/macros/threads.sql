{#-
  DuckDB threads for a model that runs alone on the build's longest chain.

  DuckDB runs each model on LEAP_DUCKDB_THREADS (1) threads while dbt builds two models at a time
  (profiles.yml), so the two cores are busy whenever two models are ready. A few models are built when
  nothing else is ready: the other dbt thread waits for them (the head and the last model of the
  warehouse build, the first models of the scores build). Those take the cores of both dbt threads, `target.threads`, for
  as long as they run, and give them back after (hooks set in dbt_project.yml, beside the model's name):

      int_respondents: {+pre-hook: "{{ threads_alone() }}", +post-hook: "{{ threads_shared() }}"}

  DuckDB's thread count is one setting of the database, not of the model's connection, so a model that
  starts on the other dbt thread meanwhile shares the extra thread; that costs time, never a result:
  every sum of doubles is exact (exact_sum.sql), so no value depends on the threads or the order of the
  rows (tests/e2e/test_warehouse_e2e.py rebuilds at four threads and compares every table bit for bit).
  Measured at a million submissions: BENCHMARKS.md, "A library's waste, and two threads where a
  model runs alone".
-#}

{%- macro duckdb_threads() -%}
{{ env_var('LEAP_DUCKDB_THREADS', '1') | int }}
{%- endmacro -%}

{%- macro threads_alone() -%}
set threads = {{ [target.threads, duckdb_threads() | int] | max }}
{%- endmacro -%}

{%- macro threads_shared() -%}
set threads = {{ duckdb_threads() }}
{%- endmacro -%}
