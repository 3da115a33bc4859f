-- int_school_item_sums holds every response row once: per instrument x school year x term x item x
-- category, its n adds up to the rows of int_responses_weighted and w_scale * w_sum to their analysis
-- weights (skipped items as category -1, so that they meet in the join; relative 1e-9: the division by the school's scale and back rounds in the last bits).
-- Rows returned = a failure.
-- Run beside the build, not in its longest chain (the sums -> int_school_item_shares -> the school marts):
-- the depends_on makes it wait for fct_group_comparisons, a leaf of the national branch, so dbt does not
-- hold the sums' children for it (see assert_one_unpivoted_row_per_submission_and_item.sql). A failure
-- still fails the build, and a failed build publishes nothing.
-- depends_on: {{ ref('fct_group_comparisons') }}
with rows_side as (
    select instrument, school_year, term, item_id, coalesce(category, -1) as category, count(*) as n,
        sum(analysis_weight) as w
    from {{ ref('int_responses_weighted') }}
    group by all
),

sums_side as (
    select instrument, school_year, term, item_id, coalesce(category, -1) as category, sum(n) as n,
        sum(w_scale * w_sum) as w
    from {{ ref('int_school_item_sums') }}
    group by all
)

select *
from rows_side as r
full join sums_side as s using (instrument, school_year, term, item_id, category)
where r.n is distinct from s.n
    or abs(r.w - s.w) > 1e-9 * greatest(abs(r.w), 1e-300)
    or r.w is null or s.w is null
