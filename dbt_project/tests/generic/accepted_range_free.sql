{#- Values lie within [min_value, max_value] (nulls allowed), without a package download. -#}
{% test accepted_range_free(model, column_name, min_value, max_value) %}
select {{ column_name }} from {{ model }}
where {{ column_name }} < {{ min_value }} or {{ column_name }} > {{ max_value }}
{% endtest %}
