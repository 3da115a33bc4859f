"""Write the data sets of the DIF reference checks into tests/scoring_jobs/rasch/fixtures (seeded, deterministic).

Run from the repo root:  .venv/bin/python scoring_jobs/rasch/reference/make_dif_data.py
then  Rscript scoring_jobs/rasch/reference/dif_reference.R  to refresh the eRm/psychotools outputs.

* ``dif_sim_pcm.csv``: 1,500 simulated persons x 10 partial credit items (4 categories, 5% missing at
  random) in three groups: A (700, theta ~ N(0.3, 1)), B (500, N(-0.2, 1)) and C (300, N(0, 1)). Item
  i04 is DIF_SHIFT logits harder for group B (every step threshold shifted), the only planted DIF; the
  groups also differ in their mean, which a DIF method must not mistake for DIF.
* ``dif_science.csv``: the public Science attitude data (392 x 4, categories 0-3, from
  ../shared/reference-data/science_wide.csv) with ``half`` = odd / even person number, a split that
  should show no DIF.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from scoring_jobs.rasch.simulate import simulate_responses

ROOT = Path(__file__).resolve().parents[3]
OUT = ROOT / "tests" / "scoring_jobs" / "rasch" / "fixtures"
SCIENCE = ROOT.parent / "shared" / "reference-data" / "science_wide.csv"

THRESHOLDS = np.array(
    [
        [-1.6, -0.4, 0.8],
        [-1.2, 0.1, 1.0],
        [-0.9, -0.3, 0.6],
        [-1.0, 0.0, 1.1],  # i04: the DIF item
        [-0.5, 0.3, 1.4],
        [-1.4, -0.6, 0.5],
        [-0.2, 0.5, 1.3],
        [-1.1, -0.2, 0.4],
        [-0.7, 0.2, 1.2],
        [-0.3, 0.8, 1.7],
    ]
)
DIF_ITEM, DIF_SHIFT = 3, 0.6
GROUPS = (("A", 700, 0.3), ("B", 500, -0.2), ("C", 300, 0.0))  # label, n, mean theta (sd 1)


def simulate_dif(rng: np.random.Generator) -> pd.DataFrame:
    frames = []
    for label, n, mean in GROUPS:
        thr = THRESHOLDS.copy()
        if label == "B":
            thr[DIF_ITEM] += DIF_SHIFT
        resp = simulate_responses(rng.normal(mean, 1.0, n), thr, rng, missing=0.05).astype(float)
        resp[resp < 0] = np.nan
        d = pd.DataFrame(resp, columns=[f"i{j + 1:02d}" for j in range(resp.shape[1])])
        d.insert(0, "group", label)
        frames.append(d)
    d = pd.concat(frames, ignore_index=True)
    d.insert(0, "id", [f"p{i + 1:04d}" for i in range(len(d))])
    return d


def science_split() -> pd.DataFrame:
    d = pd.read_csv(SCIENCE)
    number = d["id"].str.extract(r"(\d+)$", expand=False).astype(int)
    d.insert(1, "half", np.where(number % 2 == 1, "odd", "even"))
    return d


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    simulate_dif(np.random.default_rng(20261216)).to_csv(OUT / "dif_sim_pcm.csv", index=False, float_format="%.0f")
    science_split().to_csv(OUT / "dif_science.csv", index=False)


if __name__ == "__main__":
    main()
