-- Privacy: a suppressed cell shows no estimate, and every cell under the minimum n is suppressed.
select 'distribution' as mart, instrument, item_id
from {{ ref('fct_item_response_distribution') }}
where (is_suppressed and (weighted_pct is not null or n_in_category is not null))
    or (n_respondents < {{ var('min_cell_n') }} and not is_suppressed)
union all
select 'top_box', instrument, item_id
from {{ ref('fct_item_top_box_shares') }}
where (is_suppressed and top_box_pct is not null) or (n_respondents < {{ var('min_cell_n') }} and not is_suppressed)
union all
select 'comparisons', instrument, item_id
from {{ ref('fct_group_comparisons') }}
where is_suppressed and (difference_pct is not null or is_significant_95 is not null)
union all
select 'school_items', instrument, item_id
from {{ ref('fct_school_item_top_box') }}
where (is_suppressed and (top_box_pct is not null or difference_from_national is not null))
    or (n_respondents < {{ var('min_cell_n') }} and not is_suppressed)
union all
select 'school_distribution', instrument, item_id
from {{ ref('fct_school_item_distribution') }}
where (is_suppressed and (weighted_pct is not null or n_in_category is not null))
    or (n_respondents < {{ var('min_cell_n') }} and not is_suppressed)
union all
select 'school_subgroups', instrument, component
from {{ ref('fct_school_subgroup_scores') }}
where (is_suppressed and (mean_scaled_score is not null or difference_from_school is not null))
    or (n_respondents < {{ var('min_cell_n') }} and not is_suppressed)
union all
select 'classrooms', instrument, item_id
from {{ ref('rpt_classroom_items') }}
where (is_suppressed and top_box_pct is not null) or (n_respondents < {{ var('min_classroom_n') }} and not is_suppressed)
union all
select 'level_distribution', instrument, component
from {{ ref('fct_score_level_distribution') }}
where (is_suppressed and (weighted_pct is not null or n_in_level is not null))
    or (n_respondents < {{ var('min_cell_n') }} and not is_suppressed)
union all
select 'scale_means', instrument, component
from {{ ref('fct_group_scale_means') }}
where (is_suppressed and (mean_scaled_score is not null or mean_scaled_score_se is not null))
    or (n_respondents < {{ var('min_cell_n') }} and not is_suppressed)
union all
select 'scale_comparisons', instrument, component
from {{ ref('fct_group_scale_comparisons') }}
where is_suppressed and (difference is not null or mean_scaled_score is not null or is_significant_95 is not null)
union all
-- growth: the matched estimates only where the school's terms are shown (a hidden term's mean would
-- come back as the matched mean)
select 'growth', instrument, component
from {{ ref('fct_school_growth') }}
where (is_suppressed and (mean_fall is not null or growth_unmatched is not null or pooled_sd is not null))
    or (is_suppressed_matched and (mean_fall_matched is not null or growth_matched is not null
                                   or effect_size_matched is not null))
    or (is_suppressed and not is_suppressed_matched)
union all
select 'school_scales', instrument, component
from {{ ref('fct_school_scale_scores') }}
where (is_suppressed and mean_scaled_score is not null) or (n_respondents < {{ var('min_cell_n') }} and not is_suppressed)
