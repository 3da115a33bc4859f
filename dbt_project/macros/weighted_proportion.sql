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
  skipped) and analysis_weight. The categories of a cell come from `categories` (a select of
  `category_keys` columns and `category`; by default every category of the item's response scale,
  joined on instrument and item_id; with binary=true the categories 0 and 1); each gets a row (0 when
  nobody chose it). weights.estimates documents the same formulas and is checked against R;
  tests/e2e/test_warehouse_e2e.py checks this SQL against it. Returns cells x category with
  unweighted counts, p, se_p, Kish's effective n = (sum w)^2 / sum w^2 and the number of schools.
-#}
{% macro weighted_category_shares(relation, cell_columns, binary=false, categories=none,
                                  category_keys=['instrument', 'item_id']) -%}
{%- set cells = cell_columns | join(', ') -%}
{%- set on_cells -%}{% for c in cell_columns %}base.{{ c }} = cats.{{ c }}{{ " and " if not loop.last }}{% endfor %}{%- endset -%}
with base as (
    select {{ cells }}, school_id, category,
        analysis_weight / avg(analysis_weight) over (partition by {{ cells }}) as w
    from {{ relation }}
),

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
),

cell_totals as (
    select {{ cells }}, count(category) as n_respondents, count(distinct school_id) as n_schools,
        sum(w) filter (where category is not null) as sum_w,
        sum(w * w) filter (where category is not null) as sum_w2
    from base
    group by all
    having count(category) > 0
),

cats as (
    select cell_totals.*, scale_categories.category
    from cell_totals
    {%- if category_keys %}
    inner join scale_categories using ({{ category_keys | join(', ') }})
    {%- else %}
    cross join scale_categories
    {%- endif %}
),

per_school as (
    select {% for c in cell_columns %}cats.{{ c }}, {% endfor %}cats.category, base.school_id,
        sum(case when base.category = cats.category then base.w else 0 end) as school_wy,
        sum(case when base.category is not null then base.w else 0 end) as school_w,
        count(case when base.category = cats.category then 1 end) as school_n_in_category
    from base
    inner join cats on {{ on_cells }}
    group by all
),

shares as (
    select {{ cells }}, category, sum(school_wy) as sum_wy, sum(school_n_in_category) as n_in_category
    from per_school
    group by all
),

with_p as (
    select cats.*,
        case
            when shares.n_in_category = cats.n_respondents then 1.0
            when shares.n_in_category = 0 then 0.0
            else least(greatest(shares.sum_wy / cats.sum_w, 0.0), 1.0)
        end as p,
        shares.n_in_category
    from cats
    inner join shares using ({{ cells }}, category)
),

z as (
    select {% for c in cell_columns %}per_school.{{ c }}, {% endfor %}per_school.category,
        sum(power((per_school.school_wy - with_p.p * per_school.school_w) / with_p.sum_w, 2)) as sum_z2
    from per_school
    inner join with_p using ({{ cells }}, category)
    group by all
)

select
    {% for c in cell_columns %}with_p.{{ c }}, {% endfor %}
    with_p.category,
    with_p.n_respondents,
    with_p.n_schools,
    with_p.n_in_category,
    with_p.p,
    case
        when with_p.n_schools <= 1 then null  -- one school: no between-school variance to estimate
        when with_p.p in (0.0, 1.0) then 0.0  -- every respondent alike: no sampling variance
        else sqrt(with_p.n_schools / (with_p.n_schools - 1.0) * z.sum_z2)
    end as se_p,
    power(with_p.sum_w, 2) / with_p.sum_w2 as kish_effective_n
from with_p
inner join z using ({{ cells }}, category)
{%- endmacro %}
