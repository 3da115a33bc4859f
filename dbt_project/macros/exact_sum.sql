{#-
  Sums of doubles that do not depend on the order DuckDB meets the rows in. A float sum depends on its
  order, and that order depends on DuckDB's threads and on the memory free at the moment (spilling):
  two builds of the same data from scratch differed by ~1e-13 in 16 tables. Integer addition does not.

  Each term x is split at the binary point 2^-30 into two integers (HUGEINT), the rest kept as a double:
      c    = sign(x) * min(|x|, 2^60)              (x clamped; null stays null)
      hi   = round(c * 2^30),   lo = round((c - hi * 2^-30) * 2^120),
      rest = x - (hi * 2^-30 + lo * 2^-120),
  the integers are summed exactly, the rests as floats, and the sum is put together once:
  sum(hi) * 2^-30 + sum(lo) * 2^-120 + sum(rest). For a term in [2^-68, 2^60] (3e-21 to 1e18) the split
  is exact (x and hi * 2^-30 share their leading bits, so their difference is a double without rounding,
  and lo keeps every bit of it down to 2^-120), so hi * 2^-30 + lo * 2^-120 is x itself and its rest is
  exactly 0: a float sum of zeros, which does not depend on the order. A group of such terms gets the exact
  sum rounded about once: as accurate as a float sum, or more. A term outside that range (a weight near
  1e-200, as in the R check on extreme weights; one above 1e18; inf, nan) leaves a nonzero rest, so a group
  that has one is as order-dependent, and as exact, as a float sum. Every term is split alike: any order
  gives the same integers. Each integer is below 2^90, so a group would need 2^37 rows to overflow HUGEINT
  (DuckDB then stops with an error; it never wraps). Null terms are skipped (hi, lo and rest are null), and
  a group of nulls only sums to null.
  Why no test of the range: a CASE per term and two more aggregates (the out-of-range floats and the
  counts that tell an empty group) cost a third more than this form (Cost, below), and the in-range
  terms' bits are the same either way. least/greatest would not do as the clamp: they skip nulls
  (greatest(null, -2^60) is -2^60); sign and abs keep them.

  exact_sum(x, over=none): the sum of x over the group (or over the window ``over``: ``partition by ...``).
  exact_avg(x, over=none): exact_sum(x) / count(x).
  exact_split(x, name) and exact_sum_split(name): the same sum with the split done where x is made: for a
  term of a respondent summed over each of their ~25 response rows, split once per respondent (columns
  name__hi, name__lo, name__rest beside it) and only summed per row. The same integers, so the same bits.
  Cost: ~2.3x a float sum on a query that does nothing but sum (benchmarks/bench_exact_sum.py: 9.6 M
  rows at one thread, 2.2 s float, 5.0 s exact; 6.8 s with a CASE on the range), mostly the HUGEINT
  additions.
-#}

{%- macro exact__clamped(x) -%}
sign({{ x }}) * least(abs({{ x }}), pow(2.0, 60))
{%- endmacro -%}

{%- macro exact__hi_float(x) -%}
round({{ exact__clamped(x) }} * pow(2.0, 30))
{%- endmacro -%}

{%- macro exact__lo_float(x) -%}
round(({{ exact__clamped(x) }} - {{ exact__hi_float(x) }} * pow(2.0, -30)) * pow(2.0, 120))
{%- endmacro -%}

{%- macro exact__hi(x) -%}
cast({{ exact__hi_float(x) }} as hugeint)
{%- endmacro -%}

{%- macro exact__lo(x) -%}
cast({{ exact__lo_float(x) }} as hugeint)
{%- endmacro -%}

{%- macro exact__rest(x) -%}
(({{ x }}) - ({{ exact__hi_float(x) }} * pow(2.0, -30) + {{ exact__lo_float(x) }} * pow(2.0, -120)))
{%- endmacro -%}

{%- macro exact__combine(hi, lo, rest, w) -%}
(cast(sum({{ hi }}){{ w }} as double) * pow(2.0, -30) + cast(sum({{ lo }}){{ w }} as double) * pow(2.0, -120)
    + sum({{ rest }}){{ w }})
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
