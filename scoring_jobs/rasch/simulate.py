"""Simulate polytomous Rasch (PCM / RSM) responses, for tests and benchmarks.

Shapes: ``theta`` is ``(n_persons,)``; ``thresholds`` is ``(n_items, max_steps)`` with step ``k``
(category ``k-1`` to ``k``) in column ``k-1`` and NaN padding after an item's last step.
Responses come back as ``int8`` ``(n_persons, n_items)`` with ``-1`` for missing.
"""

from __future__ import annotations

import numpy as np

__all__ = ["simulate_responses"]


def simulate_responses(
    theta: np.ndarray,
    thresholds: np.ndarray,
    rng: np.random.Generator,
    missing: float = 0.0,
    chunk: int = 200_000,
) -> np.ndarray:
    """Draw responses from the partial credit model (an RSM is a PCM with shared step offsets).

    ``missing`` is the probability that a response is missing completely at random.
    """
    theta = np.asarray(theta, dtype=float)
    thr = np.atleast_2d(np.asarray(thresholds, dtype=float))
    n_items, max_steps = thr.shape
    eta = np.concatenate([np.zeros((n_items, 1)), np.cumsum(np.nan_to_num(thr, nan=0.0), axis=1)], axis=1)
    valid = np.concatenate([np.ones((n_items, 1), bool), ~np.isnan(thr)], axis=1)
    cats = np.arange(max_steps + 1)
    out = np.empty((theta.size, n_items), dtype=np.int8)
    for start in range(0, theta.size, chunk):
        t = theta[start : start + chunk]
        logit = t[:, None, None] * cats[None, None, :] - eta[None, :, :]
        logit = np.where(valid[None], logit, -np.inf)
        logit -= logit.max(axis=2, keepdims=True)
        cum = np.cumsum(np.exp(logit), axis=2)
        cum /= cum[:, :, -1:]
        u = rng.random((t.size, n_items, 1))
        out[start : start + chunk] = (u > cum).sum(axis=2).astype(np.int8)
    if missing > 0:
        out[rng.random(out.shape) < missing] = -1
    return out
