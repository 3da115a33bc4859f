"""Dimensionality and local independence from the residuals of the fitted PCM/RSM.

Once the Rasch dimension is taken out, what is left of the responses should be noise: residuals
uncorrelated across items. Two views of the residual correlations:

* **First contrast** (Linacre; Winsteps Table 23): principal components of the correlation matrix of the
  *standardized* residuals ``z_ni = (x_ni - E_ni) / sqrt(Var_ni)``. Its largest eigenvalue is in item
  units (the eigenvalues sum to the number of items): 2.0 means a secondary dimension with the strength
  of about two items. The loadings show which items form it (positive against negative).
* **Yen's Q3** (Yen 1984): the correlation of the *raw* residuals ``x_ni - E_ni`` of each item pair.
  Its mean is slightly negative even when the model holds (about ``-1/(L-1)``, because the person
  measure is estimated from the same responses), so Christensen, Makransky & Horton (2017) judge the
  largest value relative to the mean: ``Q3* = max Q3 - mean Q3``.

Residuals are taken at the WLE measures, over persons with a non-extreme raw score (an extreme score's
residuals only reflect how far WLE puts it, like Winsteps). **Missing responses: pairwise deletion** —
each item pair's correlation uses the persons who answered both items (mean-imputing a residual as 0
would pull every correlation towards 0 in proportion to the missingness). A pair with fewer than
:data:`MIN_PAIR` common persons gets NaN and counts as 0 in the principal components.

**Flag rules.** A rule of thumb alone ignores that sampling noise grows with fewer persons and that the
size of these statistics under the model depends on the test; a significance test alone flags trivial
effects in large samples. So each statistic is compared with ``max(rule of thumb, simulated 95th
percentile)``: the first-contrast eigenvalue with ``max(2.0, parallel analysis)`` (Linacre's "strength
of two items"; Raîche 2005 obtained the critical eigenvalues by simulating Rasch data of the same size),
``Q3*`` with ``max(0.2, parallel analysis)`` (Marais 2013's "0.2 above the average"; Christensen et al.
2017 recommend simulated critical values). The **parallel analysis** draws ``n_sim`` data sets from the
fitted model — the persons' WLE measures, the calibrated thresholds, the observed pattern of missing
responses — re-estimates each person's WLE against the calibrated thresholds (held fixed: with these
sample sizes the item estimation error is small beside the person's) and recomputes both statistics.
Above :data:`MAX_SIM_PERSONS` scored persons it simulates a random subset of that size: the statistics
vary more in a smaller sample, so its 95th percentile is a little higher than the full sample's — a
conservative critical value; at such sizes the rule of thumb is the larger of the two anyway (the
simulated 95th percentiles shrink as the sample grows).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .anchored import score_responses
from .information import category_probabilities
from .params import log_eps_from_thresholds
from .patterns import group_patterns
from .wle import distinct_moments, estimate_theta, score_range

__all__ = ["EIGEN_RULE", "Q3_STAR_RULE", "LocalDependence", "local_dependence", "pairwise_correlations",
           "residuals"]

EIGEN_RULE = 2.0  # Linacre: a first contrast above the strength of two items
Q3_STAR_RULE = 0.2  # Marais (2013), discussed by Christensen et al. (2017)
SIM_QUANTILE = 0.95
MIN_PAIR = 10  # fewer common persons than this: no correlation for the pair
MAX_SIM_PERSONS = 5_000  # larger samples: a random 5,000 persons in the parallel analysis (see above)
CHUNK = 20_000  # persons per block (the moments are (persons, items, categories) arrays)


def residuals(responses: np.ndarray, log_eps: np.ndarray, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Raw ``x - E`` and standardized ``(x - E) / sqrt(Var)`` residuals ``(n, n_items)``, NaN where missing.

    ``responses`` integer, ``-1`` = missing; ``theta`` ``(n,)`` finite.
    """
    raw = np.full(responses.shape, np.nan)
    std = np.full(responses.shape, np.nan)
    for s in range(0, responses.shape[0], CHUNK):
        x = responses[s : s + CHUNK]
        observed = x >= 0
        mean, var, _, _ = distinct_moments(theta[s : s + CHUNK], log_eps, observed)
        ok = observed & (var > 0)
        raw[s : s + CHUNK] = np.where(observed, x - mean, np.nan)
        std[s : s + CHUNK] = np.where(ok, (x - mean) / np.sqrt(np.where(ok, var, 1.0)), np.nan)
    return raw, std


def pairwise_correlations(values: np.ndarray) -> np.ndarray:
    """``(n_items, n_items)`` Pearson correlations of the columns of ``values`` (NaN = missing), each pair
    over the rows where both are present; NaN for pairs with fewer than :data:`MIN_PAIR` such rows."""
    m = np.isfinite(values).astype(float)
    v = np.where(m > 0, values, 0.0)
    n = m.T @ m  # common persons per pair
    s = v.T @ m  # s[i, j] = sum of v_i over the persons who also answered j (v_i is 0 where i is missing)
    ss = (v * v).T @ m
    with np.errstate(divide="ignore", invalid="ignore"):
        cov = v.T @ v - s * s.T / n  # n * covariance over the common persons
        r = cov / np.sqrt((ss - s * s / n) * (ss - s * s / n).T)
    r[n < MIN_PAIR] = np.nan
    np.fill_diagonal(r, 1.0)
    return r


def first_contrast(corr: np.ndarray) -> tuple[float, np.ndarray]:
    """Largest eigenvalue of a correlation matrix (item units) and the loadings ``vector * sqrt(eigenvalue)``,
    signed so that the largest absolute loading is positive. NaN correlations count as 0."""
    values, vectors = np.linalg.eigh(np.nan_to_num(corr, nan=0.0))
    value, vector = float(values[-1]), vectors[:, -1]
    vector = vector * np.sign(vector[np.argmax(np.abs(vector))])
    return value, vector * np.sqrt(max(value, 0.0))


def q3_summary(q3: np.ndarray) -> tuple[float, float, tuple[int, int]]:
    """Mean and largest off-diagonal Q3 (each pair once) and the pair ``(i, j)``, ``i < j``, of the largest."""
    i, j = np.triu_indices(q3.shape[0], k=1)
    vals = q3[i, j]
    ok = np.isfinite(vals)
    if not ok.any():
        return float("nan"), float("nan"), (-1, -1)
    k = int(np.nanargmax(vals))
    return float(vals[ok].mean()), float(vals[k]), (int(i[k]), int(j[k]))


@dataclass
class LocalDependence:
    """Residual statistics of one calibration; ``sim_*`` are the parallel-analysis draws (empty if none)."""

    n_persons: int
    eigenvalue: float
    loadings: np.ndarray
    q3: np.ndarray
    q3_mean: float
    q3_max: float
    q3_max_pair: tuple[int, int]
    sim_eigenvalues: np.ndarray
    sim_q3_star: np.ndarray

    @property
    def n_items(self) -> int:
        return self.q3.shape[0]

    @property
    def q3_star(self) -> float:
        return self.q3_max - self.q3_mean

    @property
    def eigen_critical(self) -> float:
        return _critical(EIGEN_RULE, self.sim_eigenvalues)

    @property
    def q3_star_critical(self) -> float:
        return _critical(Q3_STAR_RULE, self.sim_q3_star)

    def to_dict(self, item_names: list[str], top_pairs: int = 10) -> dict:
        """The ``dimensionality`` and ``local_dependence`` entries of ``quality.json``."""
        return {"dimensionality": self._contrast_dict(item_names), "local_dependence": self._q3_dict(item_names,
                                                                                                    top_pairs)}

    def _contrast_dict(self, names) -> dict:
        return {
            "method": "PCA of the pairwise correlations of standardized residuals at the WLE measures",
            "n_persons": self.n_persons,
            "first_contrast_eigenvalue": self.eigenvalue,
            "first_contrast_share": self.eigenvalue / self.n_items,  # of the residual variance (n_items)
            "rule_of_thumb": EIGEN_RULE,
            "n_simulations": int(self.sim_eigenvalues.size),
            "simulated_p95": _quantile(self.sim_eigenvalues),
            "critical_value": self.eigen_critical,
            "flagged": bool(self.eigenvalue > self.eigen_critical),
            "loadings": [{"item": n, "loading": float(v)} for n, v in zip(names, self.loadings, strict=True)],
        }

    def _q3_dict(self, names, top_pairs: int) -> dict:
        i, j = np.triu_indices(self.n_items, k=1)
        vals = self.q3[i, j]
        order = [k for k in np.argsort(-np.nan_to_num(vals, nan=-np.inf)) if np.isfinite(vals[k])][:top_pairs]
        a, b = self.q3_max_pair
        return {
            "method": "Yen's Q3: pairwise correlations of raw residuals at the WLE measures",
            "q3_mean": self.q3_mean, "q3_max": self.q3_max,
            "q3_max_pair": [names[a], names[b]] if a >= 0 else None,
            "q3_star": self.q3_star, "rule_of_thumb": Q3_STAR_RULE,
            "n_simulations": int(self.sim_q3_star.size), "simulated_p95": _quantile(self.sim_q3_star),
            "critical_value": self.q3_star_critical, "flagged": bool(self.q3_star > self.q3_star_critical),
            "largest_pairs": [{"items": [names[i[k]], names[j[k]]], "q3": float(vals[k]),
                               "above_mean": float(vals[k] - self.q3_mean)} for k in order],
        }


def _quantile(draws: np.ndarray) -> float | None:
    return float(np.quantile(draws, SIM_QUANTILE)) if draws.size else None


def _critical(rule: float, draws: np.ndarray) -> float:
    return max(rule, _quantile(draws)) if draws.size else rule


def _statistics(responses: np.ndarray, log_eps: np.ndarray, theta: np.ndarray):
    raw, std = residuals(responses, log_eps, theta)
    eigenvalue, loadings = first_contrast(pairwise_correlations(std))
    q3 = pairwise_correlations(raw)
    return eigenvalue, loadings, q3, *q3_summary(q3)


def local_dependence(responses: np.ndarray, thresholds: np.ndarray, n_steps: np.ndarray, n_sim: int = 100,
                     seed: int = 0, persons: tuple[np.ndarray, np.ndarray] | None = None) -> LocalDependence:
    """First contrast and Q3 of ``responses`` ``(n_persons, n_items)`` (integers, ``-1`` = missing, every
    category scorable by ``thresholds``), persons at their WLE measures, with a parallel analysis of
    ``n_sim`` simulated data sets (0 = none; seeded, so the same input gives the same result).

    ``persons``: the WLE measures and extreme-score flags of these rows against ``thresholds``, when the
    caller has them (a calibration's own person estimates: a WLE depends on the row alone, so they are the
    ones scoring the rows here would give, bit for bit); else the rows are scored here."""
    if persons is None:
        scored, _ = score_responses(responses, thresholds, n_steps)
        persons = (scored.theta, scored.extreme)
    theta, extreme = persons
    log_eps = log_eps_from_thresholds(thresholds, n_steps)
    keep = ~extreme & np.isfinite(theta)
    eigenvalue, loadings, q3, q3_mean, q3_max, pair = _statistics(responses[keep], log_eps, theta[keep])
    sims = _parallel_analysis(responses, theta, thresholds, n_steps, n_sim, seed)
    return LocalDependence(int(keep.sum()), eigenvalue, loadings, q3, q3_mean, q3_max, pair, *sims)


def _parallel_analysis(responses, theta, thresholds, n_steps, n_sim, seed) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues and Q3* of ``n_sim`` data sets drawn from the fitted model (see the module docstring)."""
    rng = np.random.default_rng(seed)
    log_eps = log_eps_from_thresholds(thresholds, n_steps)
    scored = np.flatnonzero(np.isfinite(theta))
    if scored.size > MAX_SIM_PERSONS:
        scored = np.sort(rng.choice(scored, MAX_SIM_PERSONS, replace=False))
    observed = responses[scored] >= 0
    measure = _MeasureTable(observed, log_eps)
    cum = _cumulative(theta[scored], log_eps)  # the same persons in every draw
    eig, q3_star = [], []
    for _ in range(n_sim):
        sim = _draw(cum, log_eps, observed, rng)
        sim_theta, extreme = measure(sim)
        keep = ~extreme
        value, _, _, q3_mean, q3_max, _ = _statistics(sim[keep], log_eps, sim_theta[keep])
        eig.append(value)
        q3_star.append(q3_max - q3_mean)
    return np.array(eig), np.array(q3_star)


class _MeasureTable:
    """The WLE measure of every raw score possible on each answered-items pattern of ``observed``, solved
    once: the simulated data sets keep the observed patterns, so each re-estimate is a lookup. A WLE is a
    function of the pattern and the raw score (:mod:`.wle`) solved row by row to its own convergence, so
    the lookup gives the bits that scoring each data set (:func:`.anchored.score_responses`) gives."""

    def __init__(self, observed: np.ndarray, log_eps: np.ndarray):
        groups = group_patterns(np.where(observed, 0, -1))
        self.pattern = groups.pattern
        self.rmin, self.rmax = (r.astype(np.int64) for r in score_range(log_eps, groups.masks))
        self.width = int(self.rmax.max(initial=0)) + 1
        pattern = np.repeat(np.arange(groups.masks.shape[0]), self.width)
        score = np.tile(np.arange(self.width), groups.masks.shape[0])
        possible = (score >= self.rmin[pattern]) & (score <= self.rmax[pattern])
        self.theta = np.full(pattern.size, np.nan)
        self.theta[possible], _ = estimate_theta(score[possible], groups.masks[pattern[possible]], log_eps)

    def __call__(self, responses: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Measures and extreme-score flags ``(n,)`` of responses with the table's patterns, row for row."""
        raw = np.where(responses >= 0, responses, 0).sum(axis=1, dtype=np.int64)
        extreme = (raw <= self.rmin[self.pattern]) | (raw >= self.rmax[self.pattern])
        return self.theta[self.pattern * self.width + raw], extreme


def draw_responses(theta: np.ndarray, log_eps: np.ndarray, observed: np.ndarray,
                   rng: np.random.Generator) -> np.ndarray:
    """Responses ``(n, n_items)`` int16 drawn from the model, ``-1`` where ``observed`` is False.

    Works from ``log_eps``, so structural-zero categories keep probability 0 (the thresholds layout of
    :func:`.simulate.simulate_responses` has no place for them).
    """
    return _draw(_cumulative(theta, log_eps), log_eps, observed, rng)


def _cumulative(theta: np.ndarray, log_eps: np.ndarray) -> list[np.ndarray]:
    """Cumulative category probabilities ``(chunk, n_items, n_cats)`` per :data:`CHUNK` persons, made
    once per distinct theta (a few thousand WLE values among the persons)."""
    u, inverse = np.unique(theta, return_inverse=True)
    cum_u = np.cumsum(category_probabilities(u, log_eps), axis=2)
    inverse = inverse.ravel()
    return [cum_u[inverse[s : s + CHUNK]] for s in range(0, theta.size, CHUNK)]


def _draw(cum: list[np.ndarray], log_eps: np.ndarray, observed: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    out = np.empty(observed.shape, dtype=np.int16)
    top = _top(log_eps)[None, :]
    for s, c in zip(range(0, observed.shape[0], CHUNK), cum, strict=True):
        u = rng.random(c.shape[:2] + (1,))
        # inverse CDF: the category is the number of cumulative probabilities below u; min() guards
        # against a last cumulative sum a rounding error below 1
        out[s : s + CHUNK] = np.minimum((u > c).sum(axis=2), top)
    return np.where(observed, out, -1).astype(np.int16)


def _top(log_eps: np.ndarray) -> np.ndarray:
    """``(n_items,)`` highest category in the model."""
    return log_eps.shape[1] - 1 - np.argmax(np.isfinite(log_eps)[:, ::-1], axis=1)
