-- Grain: one row per school x instrument x school year x term x scaled component.
-- Weighted mean scaled score, its SE, n, weighted share in each personalization level and the school
-- level; the reliability of the school's measures and the accuracy and consistency of their levels.
-- Cells under var('min_cell_n') scored respondents: counts kept, estimates null, is_suppressed.
{%- set ok = "n_respondents >= " ~ var('min_cell_n') %}
select
    school_id,
    instrument,
    school_year,
    term,
    component,
    calibration_id,
    n_respondents,
    n_not_scored,
    not ({{ ok }}) as is_suppressed,
    case when {{ ok }} then mean_scaled end as mean_scaled_score,
    case when {{ ok }} then se_scaled end as mean_scaled_score_se,
    case when {{ ok }} then 100 * coalesce(share_emerging, 0) end as pct_emerging,
    case when {{ ok }} then 100 * coalesce(share_moderate_low, 0) end as pct_moderate_low,
    case when {{ ok }} then 100 * coalesce(share_moderate_high, 0) end as pct_moderate_high,
    case when {{ ok }} then 100 * coalesce(share_high, 0) end as pct_high,
    case when {{ ok }} then school_level end as school_level,
    case when {{ ok }} then reliability end as reliability,
    case when {{ ok }} then classification_accuracy end as classification_accuracy,
    case when {{ ok }} then classification_consistency end as classification_consistency,
    case when {{ ok }} then n_misfitting end as n_misfitting
from {{ ref('int_school_scale_means') }}
