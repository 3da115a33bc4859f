"""Elementary symmetric functions (ESF) of polytomous items, vectorised over response patterns.

For item weights ``eps[p, i, x]`` (pattern ``p``, item ``i``, category ``x``; an item missing in the
pattern has weights ``[1, 0, ..., 0]``), the ESF of order ``r`` is the coefficient of ``t**r`` in
``prod_i sum_x eps[p, i, x] * t**x``. Computed by repeated polynomial multiplication in linear space;
callers keep the weights rescaled (each item's largest weight is 1 and the rescaling constants are
added back in log space), which keeps every product within floating-point range.

Shapes: ``eps`` is ``(n_patterns, n_items, n_cats)``; ESF arrays are ``(n_patterns, max_score + 1)``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["esf", "multiply", "prefix_products", "suffix_products", "leave_one_out"]


def multiply(gamma: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Multiply polynomials ``gamma (P, R+1)`` by one item's ``weights (P, K)``, truncated to R+1 (or
    ``gamma (P, m, R+1)`` by ``weights (P, m, K)``: m products at once)."""
    out = gamma * weights[..., :1]
    n = gamma.shape[-1]
    for x in range(1, weights.shape[-1]):
        out[..., x:] += gamma[..., : n - x] * weights[..., x : x + 1]
    return out


def _convolve(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise polynomial products of ``a, b (..., R+1)`` truncated to R+1 coefficients:
    ``out[..., t] = sum_s a[..., s] b[..., t - s]``, as one contraction over windows of ``b`` padded with
    R zeros in front (``win[..., t, j] = b[..., t + j - R]``, ``j = R - s``) rather than R + 1 array
    operations (the CML likelihood makes this product for every item at every evaluation)."""
    n = a.shape[-1]
    padded = np.concatenate([np.zeros((*b.shape[:-1], n - 1)), b], axis=-1)
    win = np.lib.stride_tricks.sliding_window_view(padded, n, axis=-1)
    return np.einsum("...j,...tj->...t", a[..., ::-1], win)


def _unit(n_patterns: int, n_scores: int) -> np.ndarray:
    g = np.zeros((n_patterns, n_scores))
    g[:, 0] = 1.0
    return g


def prefix_products(eps: np.ndarray, n_scores: int) -> list[np.ndarray]:
    """``F[i]`` = ESF of items ``0..i-1``; a list of ``n_items + 1`` arrays ``(P, n_scores)``."""
    out = [_unit(eps.shape[0], n_scores)]
    for i in range(eps.shape[1]):
        out.append(multiply(out[-1], eps[:, i]))
    return out


def suffix_products(eps: np.ndarray, n_scores: int) -> list[np.ndarray]:
    """``S[i]`` = ESF of items ``i..n_items-1``; a list of ``n_items + 1`` arrays ``(P, n_scores)``."""
    n_items = eps.shape[1]
    out = [None] * (n_items + 1)
    out[n_items] = _unit(eps.shape[0], n_scores)
    for i in range(n_items - 1, -1, -1):
        out[i] = multiply(out[i + 1], eps[:, i])
    return out


def esf(eps: np.ndarray, n_scores: int | None = None) -> np.ndarray:
    """ESF ``(P, n_scores)`` of all items; ``n_scores`` defaults to ``n_items * (n_cats - 1) + 1``."""
    eps = np.asarray(eps, dtype=float)
    if n_scores is None:
        n_scores = eps.shape[1] * (eps.shape[2] - 1) + 1
    return prefix_products(eps, n_scores)[-1]


def leave_one_out(prefix: list[np.ndarray], suffix: list[np.ndarray]) -> np.ndarray:
    """ESF without item ``i``, for every ``i``: ``(P, n_items, n_scores)``."""
    return _convolve(np.stack(prefix[:-1], axis=1), np.stack(suffix[1:], axis=1))
