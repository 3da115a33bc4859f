{#- The combination of columns is unique (what dbt_utils.unique_combination_of_columns does,
    without a package download).
    after: optionally a ref() the test waits for and does not read. dbt holds a model's children until
    its tests pass, unless a test also reads a node they do not descend from; naming a later leaf here
    runs the test beside the build instead of in its longest chain. A failure still fails the build,
    and a failed build publishes nothing. -#}
{% test dbt_utils_free_unique_combination(model, columns, after=none) %}
select {{ columns | join(', ') }}, count(*) as n
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}
