"""Regenerate the simulated fixture data sets in tests/scoring_jobs/rasch/fixtures (seeded, deterministic).

Run from the repo root:  .venv/bin/python scoring_jobs/rasch/reference/make_fixtures.py
then  Rscript scoring_jobs/rasch/reference/erm_reference.R  to refresh the eRm reference outputs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from scoring_jobs.rasch.simulate import simulate_responses

OUT = Path(__file__).resolve().parents[3] / "tests" / "scoring_jobs" / "rasch" / "fixtures"

PCM_THRESHOLDS = np.array(
    [
        [-1.5, -0.5, 0.7],
        [-1.0, 0.3, 1.0],
        [-0.9, -1.2, 0.2],
        [-2.0, -0.8, 0.5],
        [0.5, 0.1, 1.5],
        [-0.7, 0.9, 1.4],
        [0.0, 0.6, 1.1],
        [-1.2, -0.4, 0.3],
        [-0.3, -0.6, 0.8],
        [0.2, 1.3, 2.1],
    ]
)
MIXED_THRESHOLDS = np.array(
    [
        [-1.5, -0.5, 0.4, 1.2],
        [-1.0, 0.3, np.nan, np.nan],
        [-0.2, np.nan, np.nan, np.nan],
        [-2.0, -0.8, 0.5, np.nan],
        [0.5, 0.1, 1.5, np.nan],
        [-0.7, 0.9, np.nan, np.nan],
        [0.0, 0.6, 1.1, 2.0],
        [-1.2, np.nan, np.nan, np.nan],
        [-0.3, -0.6, 0.8, np.nan],
        [0.2, 1.3, np.nan, np.nan],
    ]
)
RSM_LOCATIONS = np.array([-1.2, -0.8, -0.4, -0.1, 0.0, 0.2, 0.5, 0.7, 1.0, 1.3])
RSM_TAU = np.array([-1.0, 0.1, 0.9])


def _write(resp: np.ndarray, name: str) -> None:
    df = pd.DataFrame(resp.astype(float), columns=[f"i{j + 1:02d}" for j in range(resp.shape[1])])
    df[df < 0] = np.nan
    df.insert(0, "id", [f"p{i + 1:04d}" for i in range(resp.shape[0])])
    df.to_csv(OUT / name, index=False, float_format="%.0f")


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(20240401)
    theta = rng.normal(0.3, 1.2, 800)
    _write(simulate_responses(theta, PCM_THRESHOLDS, rng, missing=0.05), "sim_pcm.csv")
    rng = np.random.default_rng(20240403)
    theta = rng.normal(0.3, 1.2, 800)
    _write(simulate_responses(theta, MIXED_THRESHOLDS, rng, missing=0.05), "sim_pcm_mixed.csv")
    rng = np.random.default_rng(20240402)
    theta = rng.normal(0.0, 1.3, 800)
    thr = RSM_LOCATIONS[:, None] + RSM_TAU[None, :]
    _write(simulate_responses(theta, thr, rng, missing=0.05), "sim_rsm.csv")


if __name__ == "__main__":
    main()
