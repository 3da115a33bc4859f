"""Survey weights: raking to population margins and weighted estimates with standard errors.

Public surface (kept stable; the dbt marts mirror the formulas in :mod:`weights.estimates`):

- :func:`load_margins`, :func:`rake` -> :class:`RakeResult` (weights + :class:`RakeDiagnostics`)
- :func:`kish_design_effect`, :func:`kish_effective_n`
- :func:`weighted_proportions`, :func:`compare_groups`, :func:`weighted_mean`, :func:`compare_means`,
  :func:`paired_difference`, :func:`overlap_difference`

Every result equals R's survey package (``rake``, ``calibrate``, ``svymean``); the R script that makes the
reference numbers is ``weights/reference/rake_reference.R``.
"""

from weights.estimates import (
    compare_groups,
    compare_means,
    paired_difference,
    weighted_mean,
    weighted_proportions,
)
from weights.raking import (
    MARGIN_TOLERANCE,
    MarginsMissed,
    RakeDiagnostics,
    RakeResult,
    kish_design_effect,
    kish_effective_n,
    load_margins,
    rake,
)

__all__ = [
    "MARGIN_TOLERANCE",
    "MarginsMissed",
    "RakeDiagnostics",
    "RakeResult",
    "compare_groups",
    "compare_means",
    "kish_design_effect",
    "kish_effective_n",
    "load_margins",
    "overlap_difference",
    "paired_difference",
    "rake",
    "weighted_proportions",
    "weighted_mean",
]
