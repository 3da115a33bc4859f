{#- The rows of a national benchmark (fct_national_benchmarks) for one measure: every benchmark version
    (benchmarks.csv; is_current = the one adopted last) joined to the national sample's estimates of its
    reference school year, read from `measures` (a CTE before the call, which ends the model's CTE list with instrument, school_year, term,
    grade_band, measure, measure_id, value, se, n_respondents, n_schools, is_suppressed). The item and
    the scale benchmarks are built apart (int_national_item_benchmarks, int_national_scale_benchmarks)
    so that what compares a school with the item benchmark does not depend on the Rasch scores. -#}
{% macro national_benchmark_rows(measures) %}
versions as (
    select benchmark_version, reference_school_year, adopted_on,
        -- one current version even when two were adopted the same day: the later version name wins
        row_number() over (order by adopted_on desc, benchmark_version desc) = 1 as is_current
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
    case when not m.is_suppressed and m.n_schools > 1 then m.n_schools - 1 end as df  -- blank with its value
from {{ measures }} as m
inner join versions as v on m.school_year = v.reference_school_year
{% endmacro %}
