"""Rasch measurement engine: CML calibration of the partial credit (PCM) and rating scale (RSM) models,
Warm WLE person estimates, infit/outfit, anchored scoring, the 200–300 reporting scale, DIF between groups
(:func:`dif_analysis`) and the measurement-quality statistics and report (:mod:`.quality`, :mod:`.report`).

Public API::

    from scoring_jobs.rasch import calibrate, score
    cal = calibrate(responses, model="pcm", item_names=names)   # responses (n_persons, n_items)
    cal.to_dir("out/")                                          # items.csv, item_fit.csv, persons.csv, ...
    persons = score(new_responses, cal.thresholds, cal.n_steps)  # anchored WLE

Conventions: thresholds ``(n_items, max_steps)``, step ``k`` = category ``k-1`` to ``k``, logits on the
difficulty scale; origin: mean item location 0. See docs/rasch.md.
"""

from .anchored import ItemSums, PersonEstimates, RaschDataError, score_batch, score_responses
from .api import MODELS, Calibration, NullCategoryWarning, calibrate, score
from .io import read_item_params
from .scale import LEVELS, CutScores, ScaleTransform, classify

_LAZY = {"DIFResult": ".dif", "dif_analysis": ".dif"}


def __getattr__(name: str):
    """DIF on first use: it imports scipy.stats (0.5-1 s a process), which scoring a term, done in a
    process and two workers per term, does not need."""
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Calibration",
    "CutScores",
    "DIFResult",
    "ItemSums",
    "LEVELS",
    "MODELS",
    "NullCategoryWarning",
    "PersonEstimates",
    "RaschDataError",
    "ScaleTransform",
    "calibrate",
    "classify",
    "dif_analysis",
    "read_item_params",
    "score",
    "score_batch",
    "score_responses",
]
