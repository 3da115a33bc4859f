-- Grain: one row per instrument x instrument version x item.
with items as (
    select * from {{ ref('items') }}
),

components as (
    select * from {{ ref('components') }}
),

scales as (
    select
        response_scale,
        count(*) as n_categories,
        string_agg(label, ' | ' order by category) as category_labels
    from {{ ref('response_scales') }}
    group by response_scale
)

select
    items.instrument,
    items.instrument_version,
    items.item_id,
    items.position as item_position,
    items.component,
    components.component_name,
    components.is_scaled as is_scaled_component,
    items.wording,
    items.response_scale,
    scales.n_categories,
    scales.category_labels,
    items.top_box_min as top_box_min_category,
    items.is_classroom_indicator
from items
inner join components using (component)
inner join scales using (response_scale)
