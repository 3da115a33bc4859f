{#-
  Weighted share of each category within cells, with its Taylor-linearization standard error for a
  design with schools as primary sampling units and weights (R: svydesign(ids = ~school_id,
  weights = ~w); svymean(~factor(item), design)):

      p      = sum(w * y) / sum(w)                  sums over respondents who answered the item;
                                                    y = 1 when the response is in the category
      z_h    = (sum over school h of w * (y - p)) / sum(w)
      var(p) = H / (H - 1) * sum_h z_h^2            H = schools with a respondent in the cell,
                                                    answered or not (R's na.rm = TRUE keeps
                                                    skipping respondents as zero units)

  Numerically safe, as R is: the weights are first divided by their mean within the cell (every
  quantity above is invariant to that scale), so squares of weights such as 1e-220 do not underflow
  to 0. When every respondent of a cell is in the category (or none is), p is exactly 1 (0) and its
  variance exactly 0, instead of the float noise two sums in different orders leave; other shares are
  clamped to [0, 1].

  `relation`: one row per respondent x item with the cell columns, school_id, category (null when
  skipped) and analysis_weight; or, with summed=true, respondents already summed into groups inside a
  school and category (int_school_item_sums): n, w_scale = k, w_sum = sum of w / k, w2_sum = sum of
  (w / k)^2 for any positive k of the group. Either way each group enters as k / mean_w times its sums
  (a respondent row is the group n = 1, k = w, sums 1), so the two forms give the same estimates and
  the respondent form is computed exactly as before. The categories of a cell come from `categories`
  (a select of `category_keys` columns and `category`; by default every category of the item's response scale,
  joined on instrument and item_id; with binary=true the categories 0 and 1); each gets a row (0 when
  nobody chose it). weights.estimates documents the same formulas and is checked against R;
  tests/e2e/test_warehouse_e2e.py checks this SQL against it. Returns cells x category with
  unweighted counts, p, se_p, Kish's effective n = (sum w)^2 / sum w^2 and the number of schools.
  Aggregate first, expand categories last: respondents are summed per cell x school x category
  chosen before anything meets the category list, so the category expansion is of schools, not of
  respondents (37x fewer rows at a million submissions), and z_h keeps its exact form (the square of
  each school's own difference, no expanded sums to cancel). With one_respondent_per_psu=true (every
  "PSU" one respondent, as in a school's own distribution) the expansion disappears: a respondent in
  the category contributes w^2 (1 - p)^2, one in another category w^2 p^2, so
      sum_h z_h^2 = ((1 - p)^2 S_c + p^2 (S - S_c)) / (sum w)^2,   S_c = sum of w^2 over category c,
  S over every category. S and S_c are exact sums of the same terms, so S - S_c is exactly 0 when every
  respondent chose c and otherwise off by at most an ulp of S: relative to the SE, about 1e-16 times
  S / (S - S_c) (at most 8.5e-16 at a million submissions, against the sum over the other categories
  as a window, which cost a quarter of int_school_item_shares' time); clamped at 0.
  Every sum of doubles is an exact_sum (macros/exact_sum.sql): two builds give the same bits.
  Narrow keys: each cell gets a number (cell_key) once, every group-by and join inside is on it, and the
  cell columns come back at the end: int_top_box_by_subgroup (six text keys a cell) 9.8 -> 5.7 s of CPU
  at a million submissions, fct_item_response_distribution 9.7 -> 5.7 s, the same bits.
  The top box beside the categories (top_box: a select of `category_keys` columns and top_box_min; with
  one respondent per PSU only): one more category, -1, the categories at or above top_box_min taken
  together. With one respondent per PSU the estimator needs only each category's n, sum of w and sum of
  w^2, so the top box's are the exact sums of its categories' (no second pass over the respondents, as a
  binary=true run of its own would be: int_school_item_shares 12.8 -> 10.2 s of CPU at a million
  submissions), the same estimate as the binary run's but for the last bits (its sums rounded twice).
  school_rows=true (with summed=true, schools as PSUs): the caller's relation has exactly one row per
  cell x school x category, because it was grouped by those keys: int_school_item_sums for cells by
  grade band and sample, int_school_subgroup_sums for cells by subgroup level. The per-school sums are
  then its rows, not a group-by of them: an exact sum of one term is that term (hi * 2^-30 + lo * 2^-120
  gives back every bit), so the estimates are the same bits (fct_item_response_distribution 5.3-5.9 ->
  3.3-3.5 s alone at a million submissions). On a relation with two rows for a group it would be wrong
  (the PSU sums split): the flag is the caller's statement of its input's grain.
  single_rows='<column>' (with summed=true and one respondent per PSU): the same, row by row: a boolean
  column of the relation, true on a row that is its cell x category group alone (int_school_item_shares:
  the school terms with one grade band and sample, every school term of the simulated data). Those rows
  pass through as their own sums, the others are grouped: the same bits (int_school_item_shares alone at
  a million submissions, one thread: 8.6 -> 6.0-6.5 s).
-#}
{% macro weighted_category_shares(relation, cell_columns, binary=false, categories=none,
                                  category_keys=['instrument', 'item_id'], one_respondent_per_psu=false,
                                  summed=false, top_box=none, school_rows=false, single_rows=none) -%}
{%- if top_box is not none and not one_respondent_per_psu -%}
{{ exceptions.raise_compiler_error("weighted_category_shares: top_box needs one_respondent_per_psu=true") }}
{%- endif %}
{%- if school_rows and (one_respondent_per_psu or not summed) -%}
{{ exceptions.raise_compiler_error("weighted_category_shares: school_rows needs summed=true, schools as PSUs") }}
{%- endif %}
{%- if single_rows is not none and not (one_respondent_per_psu and summed) -%}
{{ exceptions.raise_compiler_error("weighted_category_shares: single_rows needs summed=true and one_respondent_per_psu=true") }}
{%- endif %}
{%- set cells = cell_columns | join(', ') -%}
{#- `not materialized` here and on the callers' input CTEs: DuckDB copies a CTE read twice into memory
    whole, where it cannot spill; inlined, each read is a scan (int_school_item_shares alone at a million
    submissions: 15.8 -> 14.3 s of CPU, its temporary files 0.77 -> 0.45 GB). #}
{%- if summed %}
with sums as not materialized (select * from {{ relation }}),
{%- else %}
with sums as not materialized (  -- each respondent row a group of one, at its own scale: the sums below
                                 -- are then w and w^2
    select *, 1 as n, analysis_weight as w_scale, 1.0 as w_sum, 1.0 as w2_sum from {{ relation }}
),
{%- endif %}

cell_keys as (  -- a number per cell (see Narrow keys above)
    select row_number() over () as cell_key, * from (select distinct {{ cells }} from sums)
),

keyed as not materialized (
    select k.cell_key, r.* exclude ({{ cells }}) from sums as r inner join cell_keys as k using ({{ cells }})
),

cell_scale as (
    select cell_key, {{ exact_sum('w_scale * w_sum') }} / sum(n) as mean_w from keyed group by all
),

base as (  -- weights divided by their cell's mean (an aggregate joined back: cheaper than a window)
    select r.cell_key, {{ '' if one_respondent_per_psu else 'r.school_id, ' }}r.category,
        {{ 'r.' ~ single_rows ~ ', ' if single_rows is not none else '' }}r.n,
        r.w_sum * (r.w_scale / s.mean_w) as w, r.w2_sum * power(r.w_scale / s.mean_w, 2) as w2
    from keyed as r
    inner join cell_scale as s using (cell_key)
),

-- one row per cell x school x category chosen (null: the respondents who skipped the item); with one
-- respondent per PSU, per cell x category (the closed form needs no PSU's own sums)
{%- if school_rows %}
school_cat as not materialized (  -- the relation's rows are these groups already (school_rows, above)
    select cell_key, school_id, category, w as wy, w2 as wy2, n from base
),
{%- elif single_rows is not none %}
school_cat as (  -- the rows that are their group alone as they are (single_rows, above), the others summed
    select cell_key, category, w as wy, w2 as wy2, n from base where {{ single_rows }}
    union all
    select cell_key, category, {{ exact_sum('w') }} as wy, {{ exact_sum('w2') }} as wy2, sum(n) as n
    from base
    where not {{ single_rows }}
    group by all
),
{%- else %}
school_cat as (
    select cell_key, {{ '' if one_respondent_per_psu else 'school_id, ' }}category,
        {{ exact_sum('w') }} as wy, {{ exact_sum('w2') }} as wy2, sum(n) as n
    from base
    group by all
),
{%- endif %}
{%- if not one_respondent_per_psu %}

-- one row per cell x school with a respondent in the cell, answered or not (the PSUs)
school_tot as (
    select cell_key, school_id,
        coalesce({{ exact_sum('case when category is not null then wy end') }}, 0) as school_w
    from school_cat
    group by all
),
{%- endif %}

{%- if top_box is not none %}

top_box_mins as (select * from ({{ top_box }}) where top_box_min is not null),

top_box_cat as (  -- the top box, category -1: the sums of the categories at or above top_box_min
    select sc.cell_key, -1 as category, {{ exact_sum('sc.wy') }} as wy, {{ exact_sum('sc.wy2') }} as wy2,
        sum(sc.n) as n
    from school_cat as sc
    {%- if category_keys %}
    inner join cell_keys using (cell_key)
    inner join top_box_mins as t using ({{ category_keys | join(', ') }})
    {%- else %}
    cross join top_box_mins as t  -- one top_box_min for every cell
    {%- endif %}
    where sc.category >= t.top_box_min
    group by sc.cell_key
),
{%- endif %}

scale_categories as (
    {%- if categories is not none %}
    {{ categories }}
    {%- elif binary %}
    select distinct instrument, item_id, unnest([0, 1]) as category from {{ ref('items') }}
    {%- else %}
    select items.instrument, items.item_id, scales.category
    from {{ ref('items') }} as items
    inner join {{ ref('response_scales') }} as scales using (response_scale)
    {%- endif %}
    {%- if top_box is not none %}
    union all by name
    select {% for k in category_keys %}{{ k }}, {% endfor %}-1 as category from top_box_mins
    {%- endif %}
),

cell_totals as (
    select cell_key,
        sum(n) filter (where category is not null)::bigint as n_respondents,
        {{ 'sum(n)::bigint' if one_respondent_per_psu else 'count(distinct school_id)' }} as n_schools,
        {{ exact_sum('case when category is not null then wy end') }} as sum_w,
        {{ exact_sum('case when category is not null then wy2 end') }} as sum_w2
    from school_cat
    group by all
    having count(category) > 0
),

cats as (
    select cell_totals.*, scale_categories.category
    from cell_totals
    {%- if category_keys %}
    inner join cell_keys using (cell_key)
    inner join scale_categories using ({{ category_keys | join(', ') }})
    {%- else %}
    cross join scale_categories
    {%- endif %}
),

shares as (
    select cell_key, category, {{ 'wy' if one_respondent_per_psu else exact_sum('wy') }} as sum_wy,
        {{ 'wy2' if one_respondent_per_psu else exact_sum('wy2') }} as sum_wy2,
        {{ 'n' if one_respondent_per_psu else 'sum(n)' }}::bigint as n_in_category
    from school_cat
    where category is not null
    {{ '' if one_respondent_per_psu else 'group by all' }}
    {%- if top_box is not none %}
    union all
    select cell_key, category, wy, wy2, n::bigint from top_box_cat
    {%- endif %}
),

with_p as (
    select cats.*,
        coalesce(shares.n_in_category, 0) as n_in_category,
        coalesce(shares.sum_wy2, 0) as sum_wy2,
        case
            when coalesce(shares.n_in_category, 0) = cats.n_respondents then 1.0
            when coalesce(shares.n_in_category, 0) = 0 then 0.0
            else least(greatest(shares.sum_wy / cats.sum_w, 0.0), 1.0)
        end as p
    from cats
    left join shares using (cell_key, category)
),

{%- if one_respondent_per_psu %}

estimates as (
    -- every PSU one respondent: sum_h z_h^2 from the per-category sums of squared weights (the other
    -- categories' sum as S - S_c, see above), no self-join of every category with every other
    select *,
        (power(1 - p, 2) * sum_wy2 + power(p, 2) * greatest(sum_w2 - sum_wy2, 0.0)) / power(sum_w, 2) as sum_z2
    from with_p
)
{%- else %}

-- the category expansion, of schools: each school's weighted count in each category (0 when none)
per_school as (
    select a.cell_key, a.category, b.school_id, b.school_w, coalesce(sc.wy, 0) as school_wy
    from with_p as a
    inner join school_tot as b using (cell_key)
    left join school_cat as sc on sc.cell_key = b.cell_key and sc.school_id = b.school_id
        and sc.category = a.category
),

z as (
    select per_school.cell_key, per_school.category,
        {{ exact_sum('power((per_school.school_wy - with_p.p * per_school.school_w) / with_p.sum_w, 2)') }} as sum_z2
    from per_school
    inner join with_p using (cell_key, category)
    group by all
),

estimates as (
    select with_p.*, z.sum_z2 from with_p inner join z using (cell_key, category)
)
{%- endif %}

select
    {{ cells }},
    category,
    n_respondents,
    n_schools,
    n_in_category,
    p,
    case
        when n_schools <= 1 then null  -- one school: no between-school variance to estimate
        when p in (0.0, 1.0) then 0.0  -- every respondent alike: no sampling variance
        else sqrt(n_schools / (n_schools - 1.0) * sum_z2)
    end as se_p,
    power(sum_w, 2) / sum_w2 as kish_effective_n
from estimates
inner join cell_keys using (cell_key)
{%- endmacro %}
