-- Grain: one row per calibration x instrument x scaled component x grouping. Andersen's likelihood-ratio
-- test of the scale's item parameters across the grouping's groups (CML fits of each group against the
-- pooled fit; chi-square with df = the extra parameters): does the scale measure the same way in every
-- group? Not testable (with the reason) when fewer than two groups have 100 persons, or fewer than two
-- items can be compared. The item-level detail is fct_item_dif.
select
    calibration_id,
    instrument,
    component,
    school_year,
    term,
    grouping,
    model,
    groups,
    reference_group,
    n_groups,
    n_persons,
    n_items,
    items_excluded,
    lr_chi2,
    df,
    p_value,
    testable as is_testable,
    reason as not_testable_reason
from {{ ref('stg_scoring__scale_dif') }}
