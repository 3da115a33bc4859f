"""Write the weighting fixture (run once; the CSV is committed): ``python tests/weights/make_fixture.py``.

360 teachers in 36 schools from two samples (national, nextgen). The sample over-represents cities and the
midwest relative to the teacher margins, so raking has work to do; base weights vary by school (design
weights) and the item has four categories with about 5% skipped.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).parent / "fixtures"


def make_sample(seed: int = 20240905, n_schools: int = 36, per_school: int = 10) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    regions = rng.choice(["northeast", "midwest", "south", "west"], n_schools, p=[0.2, 0.35, 0.3, 0.15])
    urban = rng.choice(["city", "suburb", "town", "rural"], n_schools, p=[0.4, 0.3, 0.1, 0.2])
    base = rng.lognormal(np.log(3_200_000 / (n_schools * per_school)), 0.35, n_schools)
    rows = []
    for s in range(n_schools):
        sample = "nextgen" if s % 3 == 0 else "national"
        bands = rng.choice(["elementary", "middle", "high"], per_school, p=[0.45, 0.25, 0.3])
        shift = 0.6 if sample == "nextgen" else 0.0
        for j in range(per_school):
            latent = rng.normal(shift + (0.3 if bands[j] == "elementary" else 0.0) + rng.normal(0, 0.2), 1.0)
            item = int(np.digitize(latent, [-0.8, 0.2, 1.1]) + 1)
            rows.append({
                "respondent_id": f"T{s:02d}{j:02d}", "school_id": f"S{s:02d}", "sample": sample,
                "region": regions[s], "grade_band": bands[j], "urbanicity": urban[s],
                "base_weight": round(float(base[s] * rng.uniform(0.9, 1.1)), 3),
                "item": None if rng.random() < 0.05 else item,
            })
    df = pd.DataFrame(rows)
    df["item"] = df["item"].astype("Int64")
    return df


if __name__ == "__main__":
    make_sample().to_csv(HERE / "sample.csv", index=False)
    margins = pd.read_csv(Path(__file__).parents[2] / "leap" / "instrument_data" / "population_margins.csv")
    margins = margins[margins["instrument"] == "teacher"].drop(columns="instrument")
    margins.to_csv(HERE / "margins.csv", index=False)
