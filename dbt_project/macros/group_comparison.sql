{#-
  The test of a difference between two groups, shared by the item comparisons (fct_group_comparisons)
  and the scale-score comparisons (fct_group_scale_comparisons). `pairs` is a CTE with, per pair:
  n_schools_a, n_schools_b, df (the design degrees of freedom: schools are the primary sampling units),
  est_a, est_b (the two estimates) and se_a, se_b (their standard errors); `family` the columns of one
  family of tests (Benjamini-Hochberg runs within it); `order_within` the columns that break ties of
  equal p-values inside a family. Emits the CTEs tested, with_p, ranked and with_q (the last one has every
  column of `pairs` plus):
    comparison_status  'compared'; 'suppressed' when either estimate or SE is missing (under
                       var('min_cell_n') respondents); 'too_few_schools' when either group has fewer than
                       var('min_schools_per_group') schools
    difference = est_a - est_b;  difference_se = sqrt(se_a^2 + se_b^2) (independent groups, or a
                       conservative df for subgroups of one sample, chosen by the caller);
    p_value = P(|T_df| >= |difference / difference_se|);  q_value = Benjamini-Hochberg within the family.
-#}
{% macro group_comparison(pairs, family, order_within) -%}
{%- set min_schools = var('min_schools_per_group') %}
tested as (
    select
        *,
        case
            when est_a is null or est_b is null or se_a is null or se_b is null then 'suppressed'
            when n_schools_a < {{ min_schools }} or n_schools_b < {{ min_schools }} then 'too_few_schools'
            else 'compared'
        end as comparison_status,
        est_a - est_b as difference,
        sqrt(power(se_a, 2) + power(se_b, 2)) as difference_se
    from {{ pairs }}
),

with_p as (
    select
        *,
        case when comparison_status = 'compared' and difference_se > 0
            then t_two_sided_p(difference / difference_se, df)
            when comparison_status = 'compared' and difference = 0 then 1.0
            when comparison_status = 'compared' then 0.0
        end as p_value
    from tested
),

ranked as (
    select
        *,
        count(p_value) over family as n_tests,
        row_number() over (partition by {{ family | join(', ') }}
                           order by p_value asc nulls last, {{ order_within | join(', ') }}) as p_rank
    from with_p
    window family as (partition by {{ family | join(', ') }})
),

with_q as (  -- q = min over ranks >= own of p * m / rank, capped at 1 (step-up BH)
    select
        *,
        case when p_value is not null then least(1.0, min(p_value * n_tests / p_rank) over (
            partition by {{ family | join(', ') }}
            order by p_value desc nulls first, p_rank desc rows between unbounded preceding and current row))
        end as q_value
    from ranked
)
{%- endmacro %}
