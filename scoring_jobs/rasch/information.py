"""Category probabilities, test information and the conditional standard error of measurement (CSEM).

Shapes: ``log_eps`` ``(n_items, n_cats)`` from :func:`.params.log_eps_from_thresholds` (``-inf`` = category
not in the model); ``theta`` ``(n,)`` logits on the scale of the thresholds.

Under the PCM/RSM the information an item gives about ``theta`` is the model variance of its score,
``I_i(theta) = Var(X_i | theta) = sum_x x^2 P_ix - (sum_x x P_ix)^2`` (the derivative of the expected score
with respect to ``theta``), and the test information is their sum over the items. The CSEM is
``1 / sqrt(I(theta))`` — the standard error the engine reports for a WLE or MLE measure at that ``theta``
(:mod:`.wle`), here as a curve over a grid instead of at each person's estimate.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .params import log_eps_from_thresholds
from .wle import moments

__all__ = ["category_probabilities", "total_information", "information_curve"]


def category_probabilities(theta, log_eps: np.ndarray) -> np.ndarray:
    """``(n, n_items, n_cats)``: ``P(X_i = x | theta) ∝ exp(x * theta + log_eps_ix)``; 0 for structural zeros."""
    t = np.atleast_1d(np.asarray(theta, dtype=float))
    cats = np.arange(log_eps.shape[1], dtype=float)
    logit = t[:, None, None] * cats[None, None, :] + log_eps[None, :, :]
    logit -= logit.max(axis=2, keepdims=True)  # stable softmax: the largest term becomes exp(0) = 1
    prob = np.exp(logit)
    return prob / prob.sum(axis=2, keepdims=True)


def total_information(theta, thresholds: np.ndarray, n_steps: np.ndarray) -> np.ndarray:
    """``(n,)`` test information ``sum_i Var(X_i | theta)`` over every item, at each ``theta``.

    (Not called ``test_information``: pytest would collect it wherever it is imported.)
    """
    t = np.atleast_1d(np.asarray(theta, dtype=float))
    log_eps = log_eps_from_thresholds(thresholds, n_steps)
    _, var, _, _ = moments(t, log_eps, np.ones((t.size, log_eps.shape[0]), dtype=bool))
    return var.sum(axis=1)


def information_curve(thresholds: np.ndarray, n_steps: np.ndarray, lo: float = -6.0, hi: float = 6.0,
                      points: int = 121) -> pd.DataFrame:
    """``theta, information, csem`` over an even grid from ``lo`` to ``hi`` logits."""
    grid = np.linspace(lo, hi, points)
    info = total_information(grid, thresholds, n_steps)
    return pd.DataFrame({"theta": grid, "information": info, "csem": 1.0 / np.sqrt(info)})
