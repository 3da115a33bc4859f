"""Person estimates: Warm's weighted likelihood (WLE, default) or maximum likelihood (MLE).

The estimate depends only on the set of answered items and the raw score, so it is solved once per
distinct (missingness pattern, raw score) pair and broadcast to persons.

Shapes: ``log_eps`` ``(n_items, n_cats)`` from :func:`.params.log_eps_from_thresholds` (``-inf`` =
category not in the model); ``masks`` ``(n, n_items)`` bool answered items; ``raw`` ``(n,)`` raw scores.
Warm's estimating equation for Rasch-family models:
``r - sum_i E_i(theta) + J(theta) / (2 I(theta)) = 0`` with ``I = sum_i Var_i`` and ``J = sum_i mu3_i``;
its root is finite for every raw score, including the lowest and highest possible. MLE solves
``r = sum_i E_i(theta)`` and replaces extreme raw scores by ``r ± extreme_adjust`` (default 0.3).
Standard errors are ``1 / sqrt(I(theta))``. The theta scale is the one of the thresholds.
"""

from __future__ import annotations

import numpy as np

__all__ = ["moments", "distinct_moments", "estimate_theta", "score_range"]

_LO, _HI = -40.0, 40.0


def moments(theta: np.ndarray, log_eps: np.ndarray, masks: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per person-item mean, variance and 3rd/4th central moments, ``(n, n_items)`` each, 0 if unanswered."""
    cats = np.arange(log_eps.shape[1], dtype=float)
    logit = theta[:, None, None] * cats[None, None, :] + log_eps[None, :, :]
    logit -= logit.max(axis=2, keepdims=True)
    prob = np.exp(logit)
    prob /= prob.sum(axis=2, keepdims=True)
    mean = prob @ cats
    dev = cats[None, None, :] - mean[:, :, None]
    d2 = dev * dev
    var = np.einsum("nik,nik->ni", prob, d2)
    mu3 = np.einsum("nik,nik->ni", prob, d2 * dev)
    mu4 = np.einsum("nik,nik->ni", prob, d2 * d2)
    m = masks.astype(float)
    return mean * m, var * m, mu3 * m, mu4 * m


def distinct_moments(theta: np.ndarray, log_eps: np.ndarray, masks: np.ndarray) -> tuple[np.ndarray, ...]:
    """:func:`moments`, computed once per distinct ``theta`` and given to every row that has it.

    A row's moments are a function of its theta (the mask only zeroes the unanswered items), and WLE
    measures take one value per answered-items pattern and raw score: 100,000 persons of a seven-item
    scale have ~2,000 distinct measures, and the ``(n, items, categories)`` arrays are made for those.
    The values are the same to the bit as row by row."""
    u, inverse = np.unique(theta, return_inverse=True)
    m = masks.astype(float)
    every = np.ones((u.size, log_eps.shape[0]), dtype=bool)
    return tuple(a[inverse.ravel()] * m for a in moments(u, log_eps, every))


def score_range(log_eps: np.ndarray, masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lowest and highest possible raw score ``(n,)`` given the answered items."""
    ok = np.isfinite(log_eps)
    cats = np.arange(log_eps.shape[1])
    lo = np.where(ok, cats, 10**6).min(axis=1)
    hi = np.where(ok, cats, -1).max(axis=1)
    return masks @ lo, masks @ hi


def _equation(theta, raw, log_eps, masks, method):
    mean, var, mu3, mu4 = moments(theta, log_eps, masks)
    info = np.maximum(var.sum(axis=1), 1e-300)
    f = raw - mean.sum(axis=1)
    fp = -info
    if method == "wle":
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return _warm(f, fp, info, mu3, mu4, var)
    return f, fp, info


def _warm(f, fp, info, mu3, mu4, var):
    """Add Warm's correction J / (2 I) and its derivative (J' = sum of 4th cumulants)."""
    j = mu3.sum(axis=1)
    k4 = (mu4 - 3 * var * var).sum(axis=1)
    return f + j / (2 * info), fp + (k4 * info - j * j) / (2 * info * info), info


def estimate_theta(
    raw: np.ndarray,
    masks: np.ndarray,
    log_eps: np.ndarray,
    method: str = "wle",
    extreme_adjust: float = 0.3,
    tol: float = 1e-12,  # per row (see below): its own last step; 1e-12 logit = 2e-11 scaled points
    max_iter: int = 200,
) -> tuple[np.ndarray, np.ndarray]:
    """``(theta, se)`` each ``(n,)``; NaN for rows with no answered item. ``method``: 'wle' or 'mle'."""
    if method not in ("wle", "mle"):
        raise ValueError(f"method must be 'wle' or 'mle', not {method!r}")
    raw = np.asarray(raw, dtype=float)
    masks = np.asarray(masks, dtype=bool)
    rmin, rmax = score_range(log_eps, masks)
    target = raw.copy()
    if method == "mle":
        target = np.clip(target, rmin + extreme_adjust, rmax - extreme_adjust)
    span = np.maximum(rmax - rmin, 1)
    theta = np.log((target - rmin + 0.5) / (rmax - target + 0.5)) * 4.0 / np.sqrt(span)
    lo = np.full(raw.shape, _LO)
    hi = np.full(raw.shape, _HI)
    # A row stops at its own convergence: its estimate then depends on its own pattern only, not on
    # which other rows it was solved with, so scoring in batches gives the same bits as at once. Only
    # the rows still iterating are evaluated: most converge in 3-5 Newton steps, but a row whose Newton
    # steps leave its bracket (~10% of the distinct patterns, mostly scores at or near the lowest possible,
    # where Warm's correction bends the equation) bisects [-40, 40] down to tol: ~45 more steps.
    active = np.arange(raw.size)
    for _ in range(max_iter):
        t = theta[active]
        f, fp, _info = _equation(t, target[active], log_eps, masks[active], method)
        lo[active] = np.where(f > 0, t, lo[active])
        hi[active] = np.where(f > 0, hi[active], t)
        newton = t - f / np.where(fp < 0, fp, -1.0)
        ok = (fp < 0) & (newton > lo[active]) & (newton < hi[active])
        new = np.where(ok, newton, 0.5 * (lo[active] + hi[active]))
        theta[active] = new
        active = active[~(np.abs(new - t) < tol)]
        if active.size == 0:
            break
    _, _, info = _equation(theta, target, log_eps, masks, method)
    se = 1.0 / np.sqrt(info)
    empty = ~masks.any(axis=1)
    theta[empty] = np.nan
    se[empty] = np.nan
    return theta, se
