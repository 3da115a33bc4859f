{#-
  Sums of doubles that do not depend on the order DuckDB meets the rows in. A float sum depends on its
  order, and that order depends on DuckDB's threads and on the memory free at the moment (spilling):
  two builds of the same data from scratch differed by ~1e-13 in 16 tables. Integer addition does not.

  Each term x is split at the binary point 2^-30 into two integers (HUGEINT),
      hi = round(x * 2^30),   lo = round((x - hi * 2^-30) * 2^120),
  the integers are summed exactly, and the sum is converted back once: sum(hi) * 2^-30 + sum(lo) * 2^-120.
  The split is exact (x and hi * 2^-30 share their leading bits, so their difference is a double without
  rounding) and lo keeps every bit of a term down to 2^-120, so every term in [2^-68, 2^60] (3e-21 to
  1e18) is summed without rounding, and the result is the exact sum rounded about once: as accurate as a
  float sum, or more. A term outside that range (a weight near 1e-200, as in the R check on extreme
  weights) is added as a float (the "rest"), so a group that has one is as order-dependent, and as exact,
  as before. Whether a term is split is decided term by term: any order gives the same integers. Each
  integer is below 2^90, so a group would need 2^37 rows to overflow HUGEINT (DuckDB then stops with an
  error; it never wraps).

  exact_sum(x, over=none): the sum of x over the group (or over the window ``over``: ``partition by ...``).
  exact_avg(x, over=none): exact_sum(x) / count(x).
  exact_split(x, name) and exact_sum_split(name): the same sum with the split done where x is made: for a
  term of a respondent summed over each of their ~25 response rows, split once per respondent (columns
  name__hi, name__lo, name__rest beside it) and only summed per row. The same integers, so the same bits.
  Cost: ~3x a float sum on a query that does nothing but sum (benchmarks/bench_exact_sum.py: 9.6 M
  rows, 2.24 s float, 6.77 s exact), mostly the HUGEINT additions there (split once per respondent
  instead of per row: 6.52 s); where the split's arithmetic meets 25 rows per respondent and a hash
  aggregate it counts more: int_school_item_sums alone at a million submissions, one thread, 5.3-5.4 ->
  4.6-4.7 s with exact_split.
-#}

{%- macro exact__in_range(x) -%}
abs({{ x }}) between pow(2.0, -68) and pow(2.0, 60)
{%- endmacro -%}

{%- macro exact__hi(x) -%}
case when {{ exact__in_range(x) }} then cast(round(({{ x }}) * pow(2.0, 30)) as hugeint) end
{%- endmacro -%}

{%- macro exact__lo(x) -%}
case when {{ exact__in_range(x) }}
    then cast(round((({{ x }}) - round(({{ x }}) * pow(2.0, 30)) * pow(2.0, -30)) * pow(2.0, 120)) as hugeint) end
{%- endmacro -%}

{%- macro exact__rest(x) -%}
case when not ({{ exact__in_range(x) }}) then {{ x }} end
{%- endmacro -%}

{%- macro exact__combine(hi, lo, rest, w) -%}
(case when count({{ hi }}){{ w }} + count({{ rest }}){{ w }} > 0
    then coalesce(cast(sum({{ hi }}){{ w }} as double), 0) * pow(2.0, -30)
        + coalesce(cast(sum({{ lo }}){{ w }} as double), 0) * pow(2.0, -120)
        + coalesce(sum({{ rest }}){{ w }}, 0) end)
{%- endmacro -%}

{% macro exact_sum(x, over=none) -%}
{%- set w = (' over (' ~ over ~ ')') if over is not none else '' -%}
{{ exact__combine(exact__hi(x), exact__lo(x), exact__rest(x), w) }}
{%- endmacro %}

{% macro exact_avg(x, over=none) -%}
{%- set w = (' over (' ~ over ~ ')') if over is not none else '' -%}
({{ exact_sum(x, over) }} / count({{ x }}){{ w }})
{%- endmacro %}

{% macro exact_split(x, name) -%}
{{ exact__hi(x) }} as {{ name }}__hi, {{ exact__lo(x) }} as {{ name }}__lo, {{ exact__rest(x) }} as {{ name }}__rest
{%- endmacro %}

{% macro exact_sum_split(name) -%}
{{ exact__combine(name ~ '__hi', name ~ '__lo', name ~ '__rest', '') }}
{%- endmacro %}
