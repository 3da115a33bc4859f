-- Grain: one row per school x instrument x school year x term: w_scale, the school's mean analysis
-- weight over its respondents (1 when that is 0). The k of the response sums (int_school_item_sums,
-- int_school_subgroup_sums): weights are divided by it before squaring, so that squares of tiny
-- weights (1e-200) do not underflow; any positive k would do, it cancels in every estimate.
select r.instrument, r.school_year, r.term, r.school_id,
    case when {{ exact_avg('w.analysis_weight') }} > 0 then {{ exact_avg('w.analysis_weight') }} else 1.0 end as w_scale
from {{ ref('int_respondents') }} as r
inner join {{ ref('int_respondent_weights') }} as w using (instrument, school_year, term, respondent_key)
group by all
