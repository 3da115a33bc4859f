"""Survey weights: raking to population margins and weighted estimates with standard errors.

Public surface (kept stable; the dbt marts mirror the formulas in :mod:`weights.estimates`):

- :func:`load_margins`, :func:`rake` -> :class:`RakeResult` (weights + :class:`RakeDiagnostics`)
- :func:`kish_design_effect`, :func:`kish_effective_n`
- :func:`weighted_proportions`, :func:`compare_groups`

Every result equals R's survey package (``rake``, ``calibrate``, ``svymean``); the R script that makes the
reference numbers is ``weights/reference/rake_reference.R``.
"""

from weights.estimates import compare_groups, weighted_proportions
from weights.raking import (
    RakeDiagnostics,
    RakeResult,
    kish_design_effect,
    kish_effective_n,
    load_margins,
    rake,
)

__all__ = [
    "RakeDiagnostics",
    "RakeResult",
    "compare_groups",
    "kish_design_effect",
    "kish_effective_n",
    "load_margins",
    "rake",
    "weighted_proportions",
]
