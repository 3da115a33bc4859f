-- Grain: one row per calibration x instrument x scaled component x grouping x item x focal group.
-- Differential item functioning of every calibration's items (scoring_jobs/item_dif.py, the engine's
-- scoring_jobs/rasch/dif.py): each focal group against the grouping's largest group (the reference),
-- on the calibration's own data. The item-location contrast (logits, positive = harder to endorse for the
-- focal group) is tested by an anchored Wald test, the anchor purified of flagged items; Mantel's
-- chi-square with the standardized mean difference gives the ETS class (A negligible, B moderate, C
-- large); q-values control the false discovery rate over the items of a comparison. A row that is not
-- testable (a group under 100 persons, an item with too few responses in a category) says why, and is
-- never "no DIF". Group sizes under var('min_cell_n') are blanked (is_suppressed).
select
    calibration_id,
    instrument,
    component,
    school_year,
    term,
    grouping,
    item_id,
    focal_group,
    reference_group,
    n_focal < {{ var('min_cell_n') }} or n_reference < {{ var('min_cell_n') }} as is_suppressed,
    case when n_focal >= {{ var('min_cell_n') }} then n_focal end as n_focal,
    case when n_reference >= {{ var('min_cell_n') }} then n_reference end as n_reference,
    testable as is_testable,
    reason as not_testable_reason,
    is_anchor,
    dif_contrast_logits,
    dif_contrast_se,
    wald_z,
    p_value,
    q_value,
    flagged as is_flagged,
    steps_chi2,
    steps_df,
    steps_p,
    mantel_chi2,
    mantel_p,
    mantel_q,
    smd,
    smd_sd,
    ets_class
from {{ ref('stg_scoring__item_dif') }}
