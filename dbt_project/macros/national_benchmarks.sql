{#- The rows of a national benchmark (fct_national_benchmarks) for one measure: every benchmark version
    (benchmarks.csv; is_current = the one adopted last) joined to the national sample's estimates of its
    reference school year, read from `measures` (a CTE before the call, which ends the model's CTE list with instrument, school_year, term,
    grade_band, measure, measure_id, value, se, n_respondents, n_schools, is_suppressed). The item and
    the scale benchmarks are built apart (int_national_item_benchmarks, int_national_scale_benchmarks)
    so that what compares a school with the item benchmark does not depend on the Rasch scores. -#}
{% macro national_benchmark_rows(measures) %}
versions as (
    select benchmark_version, reference_school_year, adopted_on,
        adopted_on = max(adopted_on) over () as is_current
    from {{ ref('benchmarks') }}
)

select
    v.benchmark_version,
    v.reference_school_year,
    v.adopted_on,
    v.is_current,
    m.instrument,
    m.term,
    m.grade_band,
    m.measure,
    m.measure_id,
    m.n_respondents,
    m.n_schools,
    m.is_suppressed,
    m.value,
    m.se,
    case when m.n_schools > 1 then m.n_schools - 1 end as df
from {{ measures }} as m
inner join versions as v on m.school_year = v.reference_school_year
{% endmacro %}
