{#-
  Complementary (secondary) suppression, so that no suppressed cell can be recomputed by subtraction.

  `relation` holds the cells of additive tables: the rows sharing `partition_by` are the children of one
  published parent (a school's classrooms under the school, a group's schools under the group, a
  school's subgroups under the school), `n_col` their respondent counts and `is_primary_suppressed` the
  cells hidden for being under the minimum n. Subtracting the shown children from the parent reveals
  the hidden children's total; that total must itself rest on at least `min_n` respondents (or be 0).
  So while 0 < n_hidden < min_n, the smallest shown children (ties: `order_key`) are hidden too, until
  n_hidden + their n >= min_n — usually one child. A child is complementary-suppressed when
      not primary  and  n_hidden > 0  and  n_hidden + (n of the shown children before it) < min_n.
  Adds n_hidden_in_partition and is_complementary_suppressed.
-#}
{% macro complementary_suppression(relation, partition_by, order_key, n_col='n_respondents', min_n=none) -%}
{%- set min_n = var('min_cell_n') if min_n is none else min_n -%}
{%- set part = partition_by | join(', ') -%}
select *,
    not is_primary_suppressed and n_hidden_in_partition > 0
        and n_hidden_in_partition + shown_before < {{ min_n }} as is_complementary_suppressed
from (
    select *,
        sum(case when is_primary_suppressed then {{ n_col }} else 0 end) over (partition by {{ part }})
            as n_hidden_in_partition,
        coalesce(sum(case when is_primary_suppressed then 0 else {{ n_col }} end) over (
            partition by {{ part }} order by {{ n_col }}, {{ order_key }}
            rows between unbounded preceding and 1 preceding), 0) as shown_before
    from {{ relation }}
)
{%- endmacro %}

{#- Why a cell is hidden, in the words every mart and report uses. -#}
{% macro suppression_reason(primary='is_primary_suppressed', complementary='is_complementary_suppressed') -%}
case
    when {{ primary }} then 'fewer_than_min_n'
    when {{ complementary }} then 'complementary'
end
{%- endmacro %}
