"""Rasch fit statistics: infit/outfit mean squares with Wilson-Hilferty standardisation, point-measure
correlations, person separation reliability, and category diagnostics.

Shapes: ``x, mean, var, mu4`` are ``(n_persons, n_items)`` (observed response, its model mean,
variance and 4th central moment at the person's estimate); ``observed`` is the same-shape bool mask.
``axis=1`` gives person statistics, ``axis=0`` item statistics (Wright & Masters 1982):
outfit = mean of squared standardised residuals, infit = information-weighted mean square;
ZSTD = (MSQ^(1/3) - 1) (3/q) + q/3 with q the model standard deviation of the mean square.
"""

from __future__ import annotations

import numpy as np

__all__ = ["fit_sums", "mean_squares", "mean_squares_from_sums", "point_measure_correlation", "separation_reliability",
           "disordered_items"]


def mean_squares(x, mean, var, mu4, observed, axis: int) -> dict[str, np.ndarray]:
    """Infit/outfit MSQ and ZSTD along ``axis``; NaN where nothing was observed."""
    return mean_squares_from_sums(fit_sums(x, mean, var, mu4, observed, axis))


def fit_sums(x, mean, var, mu4, observed, axis: int) -> dict[str, np.ndarray]:
    """The sums along ``axis`` that the mean squares are ratios of. Sums of disjoint sets of persons
    add up (item statistics of a term scored in batches: :class:`..anchored.ItemSums`)."""
    obs = observed.astype(float)
    resid2 = np.where(observed, (x - mean) ** 2, 0.0)
    safe_var = np.where(observed & (var > 0), var, 1.0)
    return {
        "n": obs.sum(axis=axis),
        "var": (var * obs).sum(axis=axis),
        "resid2": resid2.sum(axis=axis),
        "z2": (resid2 / safe_var * obs).sum(axis=axis),  # squared standardised residuals
        "kurt_out": np.where(observed, mu4 / safe_var**2, 0.0).sum(axis=axis),
        "kurt_in": np.where(observed, mu4 - var**2, 0.0).sum(axis=axis),
    }


def mean_squares_from_sums(s: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """outfit = mean z^2, infit = sum (x - E)^2 / sum Var; q^2 their model variances (Wright & Masters)."""
    n, sum_var = s["n"], s["var"]
    with np.errstate(divide="ignore", invalid="ignore"):
        outfit = s["z2"] / n
        infit = s["resid2"] / sum_var
        q2_out = s["kurt_out"] / n**2 - 1.0 / n
        q2_in = s["kurt_in"] / sum_var**2
        return {
            "infit_msq": infit,
            "outfit_msq": outfit,
            "infit_z": _zstd(infit, q2_in),
            "outfit_z": _zstd(outfit, q2_out),
        }


def _zstd(msq: np.ndarray, q2: np.ndarray) -> np.ndarray:
    q = np.sqrt(np.clip(q2, 1e-12, None))
    return (np.cbrt(msq) - 1.0) * (3.0 / q) + q / 3.0


def point_measure_correlation(x, theta, mean, var, observed) -> tuple[np.ndarray, np.ndarray]:
    """Per item (over persons, axis 0): the observed correlation of the responses with the person measures
    (Winsteps' PTMEASURE) and its model expectation, ``(n_items,)`` each; ``theta`` is ``(n_persons,)``.

    The expectation replaces each response by its model mean and adds the model variance to the
    response variance (Linacre 2008, "The expected value of a point-biserial (or similar) correlation",
    Rasch Measurement Transactions 22:1, 1154)::

        r_exp = sum (E - mean E)(theta - mean theta) / sqrt(sum [(E - mean E)^2 + Var] * sum (theta - mean theta)^2)

    over the persons who answered the item. An observed value well below the expected one says the item
    discriminates less than the model predicts (outfit/infit above 1); above, more (overfit). On data that
    fit, the observed value runs a little higher (about 0.02 with 12 items): the item's own response is
    part of the measure it is correlated with, which the expectation at fixed measures leaves out.
    """
    m = observed.astype(float)
    t = np.where(observed, theta[:, None], 0.0)
    n = m.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        dt = np.where(observed, t - t.sum(axis=0) / n, 0.0)  # centred measures, per item's persons
        dx = np.where(observed, x - np.where(observed, x, 0).sum(axis=0) / n, 0.0)
        de = np.where(observed, mean - np.where(observed, mean, 0.0).sum(axis=0) / n, 0.0)
        st = (dt * dt).sum(axis=0)
        obs = (dx * dt).sum(axis=0) / np.sqrt((dx * dx).sum(axis=0) * st)
        exp = (de * dt).sum(axis=0) / np.sqrt((de * de + np.where(observed, var, 0.0)).sum(axis=0) * st)
    return obs, exp


def separation_reliability(theta: np.ndarray, se: np.ndarray, weights: np.ndarray | None = None) -> float:
    """Person separation reliability ``(var(theta) - mean(se^2)) / var(theta)`` (model SEs, clipped at 0).

    The caller passes the persons to include (Winsteps excludes extreme scores).
    """
    ok = np.isfinite(theta) & np.isfinite(se)
    if ok.sum() < 2:
        return float("nan")
    w = np.ones(ok.sum()) if weights is None else np.asarray(weights, float)[ok]
    t, s = theta[ok], se[ok]
    mu = np.average(t, weights=w)
    var = np.average((t - mu) ** 2, weights=w)
    if var <= 0:
        return float("nan")
    return float(max(0.0, (var - np.average(s * s, weights=w)) / var))


def disordered_items(thresholds: np.ndarray) -> np.ndarray:
    """``(n_items,)`` bool: finite step thresholds not increasing (categories never modal)."""
    out = np.zeros(thresholds.shape[0], dtype=bool)
    for i, row in enumerate(thresholds):
        fin = row[np.isfinite(row)]
        out[i] = bool(np.any(np.diff(fin) <= 0))
    return out
