"""Group persons by missingness pattern and raw score: the sufficient statistics of CML and WLE.

``responses`` is ``(n_persons, n_items)`` integer with ``-1`` for missing (see :mod:`.io`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["PatternGroups", "group_patterns", "item_category_counts"]


@dataclass
class PatternGroups:
    """Persons grouped by which items they answered.

    ``masks`` ``(n_patterns, n_items)`` bool: items observed in each pattern;
    ``pattern`` ``(n_persons,)``: each person's pattern index; ``raw_score`` ``(n_persons,)``.
    """

    masks: np.ndarray
    pattern: np.ndarray
    raw_score: np.ndarray

    def score_counts(self, n_scores: int, weights: np.ndarray | None = None) -> np.ndarray:
        """``(n_patterns, n_scores)`` (weighted) number of persons per pattern and raw score."""
        key = self.pattern * n_scores + self.raw_score
        n = self.masks.shape[0] * n_scores
        return np.bincount(key, weights=weights, minlength=n).reshape(-1, n_scores).astype(float)

    def unique_pairs(self, n_scores: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Distinct (pattern, raw score) pairs: ``(pattern_idx, score, inverse)`` with ``inverse (n_persons,)``."""
        key = self.pattern.astype(np.int64) * n_scores + self.raw_score
        uniq, inverse = np.unique(key, return_inverse=True)
        return uniq // n_scores, uniq % n_scores, inverse.ravel()


def group_patterns(responses: np.ndarray) -> PatternGroups:
    """Pattern index and raw score for every person (``-1`` = missing)."""
    resp = np.asarray(responses)
    observed = resp >= 0
    n_items = resp.shape[1]
    if n_items <= 62:
        code = (observed.astype(np.int64) << np.arange(n_items, dtype=np.int64)).sum(axis=1)
        _, first, inverse = np.unique(code, return_index=True, return_inverse=True)
    else:  # pragma: no cover - very wide instruments
        _, first, inverse = np.unique(observed, axis=0, return_index=True, return_inverse=True)
    masks = observed[first]
    raw = np.where(observed, resp, 0).sum(axis=1, dtype=np.int64)
    return PatternGroups(masks=masks, pattern=inverse.ravel().astype(np.int64), raw_score=raw)


def item_category_counts(responses: np.ndarray, n_cats: int, weights: np.ndarray | None = None) -> np.ndarray:
    """``(n_items, n_cats)`` (weighted) count of each category per item, missing excluded."""
    resp = np.asarray(responses)
    out = np.zeros((resp.shape[1], n_cats))
    for i in range(resp.shape[1]):
        col = resp[:, i]
        ok = col >= 0
        w = None if weights is None else weights[ok]
        out[i] = np.bincount(col[ok].astype(np.int64), weights=w, minlength=n_cats)[:n_cats]
    return out
