{#- A demographic value as a level of the instrument's vocabulary (seed demographic_levels): trimmed and
    lower-cased; anything else 'other_unknown'; null stays null (not reported). -#}
{% macro demographic_level(expr, variable) -%}
case
    when {{ expr }} is null then null
    when lower(trim({{ expr }})) in (
        select level from {{ ref('demographic_levels') }} where variable = '{{ variable }}'
    ) then lower(trim({{ expr }}))
    else 'other_unknown'
end
{%- endmacro %}
