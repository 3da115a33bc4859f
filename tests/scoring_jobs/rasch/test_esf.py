"""Elementary symmetric functions against brute-force enumeration."""

from __future__ import annotations

import itertools

import numpy as np

from scoring_jobs.rasch import esf


def _brute(eps: np.ndarray, n_scores: int) -> np.ndarray:
    out = np.zeros(n_scores)
    n_items, n_cats = eps.shape
    for combo in itertools.product(range(n_cats), repeat=n_items):
        out[sum(combo)] += np.prod([eps[i, x] for i, x in enumerate(combo)])
    return out


def test_esf_matches_enumeration():
    rng = np.random.default_rng(3)
    eps = rng.uniform(0.1, 3.0, size=(3, 5, 4))
    eps[1, 2, 3] = 0.0  # a structural zero
    eps[2, 4] = [1, 0, 0, 0]  # a missing item
    got = esf.esf(eps)
    for p in range(3):
        np.testing.assert_allclose(got[p], _brute(eps[p], got.shape[1]), rtol=1e-12)


def test_leave_one_out_matches_enumeration():
    rng = np.random.default_rng(4)
    eps = rng.uniform(0.2, 2.0, size=(2, 4, 3))
    n_scores = 9
    loo = esf.leave_one_out(esf.prefix_products(eps, n_scores), esf.suffix_products(eps, n_scores))
    for p in range(2):
        for i in range(4):
            rest = np.delete(eps[p], i, axis=0)
            np.testing.assert_allclose(loo[p, i], _brute(rest, n_scores), rtol=1e-12)


def test_esf_keeps_relative_precision_over_wide_range():
    # 12 items with weights spanning 1e-12..1: coefficients span ~144 orders of magnitude
    eps = np.tile(np.array([1.0, 1e-3, 1e-6, 1e-9, 1e-12]), (1, 12, 1))
    g = esf.esf(eps)
    assert np.all(g > 0)
    np.testing.assert_allclose(g[0, -1], 1e-144, rtol=1e-12)
    np.testing.assert_allclose(g[0, 1], 12e-3, rtol=1e-12)
    np.testing.assert_allclose(g[0, 2], 12e-6 + 66e-6, rtol=1e-12)
