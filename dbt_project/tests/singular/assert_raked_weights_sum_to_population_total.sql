-- Invariant: raked weights of every group sum to the population total of the instrument's margins.
with population as (
    select instrument, max(variable_total) as population_total
    from (
        select instrument, variable, sum(total) as variable_total
        from {{ ref('population_margins') }}
        group by instrument, variable
    )
    group by instrument
)

select d.*
from {{ ref('fct_weighting_diagnostics') }} as d
inner join population using (instrument)
where d.weight_method = 'raked'
    and abs(d.weight_total - population.population_total) > 1e-6 * population.population_total
