{#-
  DuckDB threads for a model that runs alone on the build's longest chain.

  DuckDB runs each model on LEAP_DUCKDB_THREADS (1) threads while dbt builds two models at a time
  (profiles.yml), so the two cores are busy whenever two models are ready. A few models are built when
  little or nothing else is ready: the other dbt thread waits for them (the head of the warehouse build,
  its long form, its last model; the first models of the scores build), or for part of their run (the
  school shares, int_school_item_shares, on the longest chain: 2.3-3.9 s of its ~13 s alone at a million
  submissions; with both threads the warehouse build ended 0.4-2.2 s sooner in four alternated pairs, the
  same bits). Those take the cores of both dbt
  threads, `target.threads`, for as long as they run, and give them back after (hooks set in
  dbt_project.yml, beside the model's name):

      int_respondents: {+pre-hook: "{{ threads_alone() }}", +post-hook: "{{ threads_shared() }}"}

  In which build: threads_alone() (in_build='all') acts in a build of every model (the warehouse build,
  `dbt build` with no --select); threads_alone('selected') in a build given --select (the scores build,
  `source:scoring+`), where the scores' first models wait for nobody. In the other build such a model
  runs beside others, and its post-hook would take the extra thread from a model built alone meanwhile
  (fct_respondent_scores ended 2.5 s into the long form, then a table, and set one thread for the rest of it).

  DuckDB's thread count is one setting of the database, not of the model's connection, so a model that
  starts on the other dbt thread meanwhile shares the extra thread; that costs time, never a result:
  every sum of doubles is exact (exact_sum.sql) or taken in a fixed order (weights/cell_sums.py), so no value depends on the threads or the order of the
  rows (tests/e2e/test_warehouse_e2e.py rebuilds at four threads and compares every table bit for bit).
  The base count is set once, when dbt-duckdb opens the database (profiles.yml: config_options), not in
  the profile's `settings`, which dbt-duckdb runs again on every cursor it opens: each model starting on
  the other dbt thread set `threads = 1` again, and a model built alone kept its second thread only
  until then (the long form, then a table, 9.4 s either way; int_respondents, with nothing starting beside
  it, had gained).
  Measured at a million submissions: BENCHMARKS.md, "A library's waste, and two threads where a
  model runs alone", and "A setting dbt-duckdb set again".
-#}

{%- macro duckdb_threads() -%}
{{ env_var('LEAP_DUCKDB_THREADS', '1') | int }}
{%- endmacro -%}

{%- macro build_kind() -%}
{{ 'selected' if invocation_args_dict.get('select') else 'all' }}
{%- endmacro -%}

{%- macro threads_alone(in_build='all') -%}
{%- if build_kind() == in_build -%}
set threads = {{ [target.threads, duckdb_threads() | int] | max }}
{%- endif -%}
{%- endmacro -%}

{%- macro threads_shared(in_build='all') -%}
{%- if build_kind() == in_build -%}
set threads = {{ duckdb_threads() }}
{%- endif -%}
{%- endmacro -%}
