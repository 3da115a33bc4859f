-- Invariant: within every reported (non-suppressed) cell the category percentages sum to 100.
select instrument, school_year, term, item_id, grade_band, sample, sum(weighted_pct) as total_pct
from {{ ref('fct_item_response_distribution') }}
where not is_suppressed
group by instrument, school_year, term, item_id, grade_band, sample
having abs(sum(weighted_pct) - 100) > 1e-6
