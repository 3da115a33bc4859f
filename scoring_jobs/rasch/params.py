"""Item parameter representation shared by the estimators.

Thresholds are stored as a float array ``(n_items, max_steps)``: column ``k-1`` holds step ``k``
(from category ``k-1`` to ``k``) in logits on the difficulty scale; ``n_steps[i]`` is item ``i``'s
highest category ``m_i``. Columns at or after ``n_steps[i]`` are padding (NaN).

Unused ("null") categories are structural zeros (probability 0), never renumbered or collapsed:

* NaN inside an item's steps, at the start or end: the categories below the lowest / above the
  highest observed category were not observed, so those steps are not estimable (Winsteps drops
  such extreme null categories too);
* ``+inf`` at step ``k``: category ``k`` lies between observed categories but was never used; the
  next finite step then spans from the last used category below (a combined step).

``log_eps`` is the equivalent ``(n_items, max_steps + 1)`` array of ``-eta_ix`` with
``eta_ix = sum_{k<=x} threshold_ik`` taken relative to the item's lowest used category,
and ``-inf`` for null categories and padding: ``P(X_i = x | theta) ∝ exp(x * theta + log_eps_ix)``.

Identification: the origin is the mean of the item locations, where an item's location is
``(eta_ib - eta_ia) / (b - a)`` over its lowest (a) and highest (b) used category — the mean of its
step thresholds when every category is used.
"""

from __future__ import annotations

import numpy as np

__all__ = ["log_eps_from_thresholds", "item_locations", "step_spans", "center_shift"]


def _bounds(row: np.ndarray, m: int) -> tuple[int, int]:
    """Lowest and highest used category of one item's threshold row (steps 1..m)."""
    steps = row[:m]
    finite = np.flatnonzero(~np.isnan(steps))
    if finite.size == 0:
        raise ValueError("an item has no estimable step")
    return int(finite[0]), int(finite[-1]) + 1


def log_eps_from_thresholds(thresholds: np.ndarray, n_steps: np.ndarray) -> np.ndarray:
    """``(n_items, max_steps + 1)`` log category weights; ``-inf`` marks null categories/padding."""
    thr = np.atleast_2d(np.asarray(thresholds, dtype=float))
    n_items, max_steps = thr.shape
    out = np.full((n_items, max_steps + 1), -np.inf)
    for i in range(n_items):
        a, b = _bounds(thr[i], int(n_steps[i]))
        out[i, a] = 0.0
        last = 0.0
        for x in range(a + 1, b + 1):
            step = thr[i, x - 1]
            if np.isposinf(step):
                continue
            if np.isnan(step):
                raise ValueError(f"item {i}: NaN step {x} between used categories")
            last = last - step
            out[i, x] = last
    return out


def step_spans(thresholds: np.ndarray, n_steps: np.ndarray) -> np.ndarray:
    """How many categories each finite step spans (1, or more across interior null categories).

    Shape ``(n_items, max_steps)``; 0 where the step is not a finite threshold.
    """
    thr = np.atleast_2d(np.asarray(thresholds, dtype=float))
    spans = np.zeros(thr.shape, dtype=int)
    for i in range(thr.shape[0]):
        a, b = _bounds(thr[i], int(n_steps[i]))
        prev = a
        for x in range(a + 1, b + 1):
            if np.isfinite(thr[i, x - 1]):
                spans[i, x - 1] = x - prev
                prev = x
    return spans


def item_locations(thresholds: np.ndarray, n_steps: np.ndarray) -> np.ndarray:
    """``(n_items,)`` item locations: total finite threshold mass per category of used range."""
    thr = np.atleast_2d(np.asarray(thresholds, dtype=float))
    spans = step_spans(thr, n_steps)
    total = np.where(spans > 0, np.nan_to_num(thr, nan=0.0, posinf=0.0), 0.0).sum(axis=1)
    return total / spans.sum(axis=1)


def center_shift(thresholds: np.ndarray, n_steps: np.ndarray) -> np.ndarray:
    """Shift finite thresholds so the mean item location is 0 (returns a new array)."""
    thr = np.array(thresholds, dtype=float)
    spans = step_spans(thr, n_steps)
    c = item_locations(thr, n_steps).mean()
    finite = spans > 0
    thr[finite] -= c * spans[finite]
    return thr
