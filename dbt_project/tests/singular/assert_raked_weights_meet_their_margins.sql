-- Invariant: a group whose weights are called raked meets every margin within the tolerance
-- (weights.MARGIN_TOLERANCE); otherwise the model falls back to the base weights and says so.
select *
from {{ ref('fct_weighting_diagnostics') }}
where weight_method = 'raked' and not coalesce(meets_margins, false)
