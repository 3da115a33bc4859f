"""Rasch measurement engine: CML calibration of the partial credit (PCM) and rating scale (RSM) models,
Warm WLE person estimates, infit/outfit, anchored scoring and the 200–300 reporting scale.

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

__all__ = [
    "Calibration",
    "CutScores",
    "ItemSums",
    "LEVELS",
    "MODELS",
    "NullCategoryWarning",
    "PersonEstimates",
    "RaschDataError",
    "ScaleTransform",
    "calibrate",
    "classify",
    "read_item_params",
    "score",
    "score_batch",
    "score_responses",
]
