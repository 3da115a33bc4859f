"""Write the "category used only by extreme scorers" Rasch fixture (run once; the CSV is committed):

    .venv/bin/python scoring_jobs/rasch/reference/make_extreme_category.py

Writes ``tests/scoring_jobs/rasch/fixtures/extreme_category.csv`` (columns ``id,i1,...,i6``, no missing values).

500 persons, theta ~ N(0, 1), answer 6 items with categories 0..4 drawn from the partial credit model
P(X = k) proportional to exp(k * theta - sum_{j <= k} delta_j) with the ordered step thresholds in
``THRESHOLDS`` (spread about -2..2). Then category 0 of item i1 is made to occur ONLY among persons whose
every response is 0: every simulated i1 = 0 is recoded to 1, and 6 persons answering 0 on all six
items are appended (ids p0501..p0506). Conditional ML drops those 6 as extreme (raw score 0), after
which category 0 of i1 is empty among the persons that carry information.
``scoring_jobs/rasch/reference/extreme_category_reference.R`` fits psychotools and eRm to it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

OUT = Path(__file__).parents[3] / "tests" / "scoring_jobs" / "rasch" / "fixtures" / "extreme_category.csv"

# step thresholds delta_i1..delta_i4 per item (difficulty scale), ordered within each item
THRESHOLDS = np.array(
    [
        [-2.0, -1.0, 0.0, 1.0],
        [-1.6, -0.6, 0.3, 1.4],
        [-1.8, -0.4, 0.6, 1.8],
        [-1.2, -0.3, 0.5, 1.2],
        [-1.5, -0.2, 0.9, 2.0],
        [-1.0, 0.0, 0.8, 1.6],
    ]
)


def simulate(seed: int = 20250301, n_persons: int = 500) -> np.ndarray:
    rng = np.random.default_rng(seed)
    theta = rng.normal(0.0, 1.0, n_persons)
    n_items, n_steps = THRESHOLDS.shape
    k = np.arange(n_steps + 1)
    cum = np.hstack([np.zeros((n_items, 1)), np.cumsum(THRESHOLDS, axis=1)])  # sum_{j<=k} delta_j, k=0..4
    X = np.empty((n_persons, n_items), dtype=int)
    for i in range(n_items):
        logits = k[None, :] * theta[:, None] - cum[i][None, :]
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        u = rng.random(n_persons)
        X[:, i] = (u[:, None] > np.cumsum(p, axis=1)[:, :-1]).sum(axis=1)
    return X


def make() -> tuple[list[str], np.ndarray]:
    X = simulate()
    X[X[:, 0] == 0, 0] = 1  # i1 = 0 -> 1 for every simulated person
    X = np.vstack([X, np.zeros((6, X.shape[1]), dtype=int)])  # six all-zero persons
    ids = [f"p{i:04d}" for i in range(1, X.shape[0] + 1)]
    # category 0 of i1 occurs only in all-zero rows
    assert np.all(X[X[:, 0] == 0].sum(axis=1) == 0) and (X[:, 0] == 0).sum() == 6
    return ids, X


if __name__ == "__main__":
    ids, X = make()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with open(OUT, "w") as fh:
        fh.write("id," + ",".join(f"i{j}" for j in range(1, X.shape[1] + 1)) + "\n")
        for pid, row in zip(ids, X, strict=True):
            fh.write(pid + "," + ",".join(str(int(v)) for v in row) + "\n")
