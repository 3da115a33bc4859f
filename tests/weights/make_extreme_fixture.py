"""Write the extreme-weights fixture (run once; the CSV is committed):

    .venv/bin/python tests/weights/make_extreme_fixture.py

Writes ``tests/weights/fixtures/extreme.csv`` with columns ``respondent_id,school_id,group,w,item,score``;
``weights/reference/extreme_reference.R`` computes the R reference numbers from it.

group ``a``: 6 schools (A1..A6) x 15 respondents. Weights are log-uniform over [1e-250, 1e5]; in two
    schools (A2, A5) every weight is further multiplied by 1e-200, so every weight there is below 1e-162
    and squaring it gives 0 in float64 (so do many weights in the ordinary schools). To keep every weight
    a positive *normal* float64 (>= 2.2e-308; 1e-250 * 1e-200 would underflow to 0), the two scaled
    schools draw their log-uniform base weight from [1e-100, 1e5], giving final weights in
    [1e-300, 1e-195]. ``item`` is a category 0..4 with about 5% skipped (empty); ``score`` ~ N(250, 20)
    rounded to 0.01.
group ``b``: 5 schools (B1..B5) x 12 respondents. Weights uniform on [0.5, 3]; ``item`` = 3 for every
    respondent (a unanimous cell: weighted share of category 3 is 100%, every SE is 0); ``score`` ~
    N(255, 20) rounded to 0.01.

Weights are written with ``repr`` (shortest round-tripping form), so they read back bit-exactly.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent / "fixtures"
TINY_SCHOOLS = ("A2", "A5")


def make_rows(seed: int = 20250214) -> list[dict[str, object]]:
    rng = np.random.default_rng(seed)
    rows: list[dict[str, object]] = []
    n = 0
    for s in range(1, 7):
        school = f"A{s}"
        low = 1e-100 if school in TINY_SCHOOLS else 1e-250
        log_w = rng.uniform(math.log(low), math.log(1e5), 15)
        items = rng.choice(5, 15, p=[0.12, 0.2, 0.3, 0.23, 0.15])
        skipped = rng.random(15) < 0.05
        scores = rng.normal(250.0, 20.0, 15)
        for j in range(15):
            w = float(np.exp(log_w[j]))
            if school in TINY_SCHOOLS:
                w *= 1e-200
                assert w >= 1e-300 and w * w == 0.0
            n += 1
            rows.append(
                {
                    "respondent_id": f"R{n:03d}",
                    "school_id": school,
                    "group": "a",
                    "w": repr(w),
                    "item": "" if skipped[j] else str(int(items[j])),
                    "score": f"{round(float(scores[j]), 2):.2f}",
                }
            )
    for s in range(1, 6):
        school = f"B{s}"
        ws = rng.uniform(0.5, 3.0, 12)
        scores = rng.normal(255.0, 20.0, 12)
        for j in range(12):
            n += 1
            rows.append(
                {
                    "respondent_id": f"R{n:03d}",
                    "school_id": school,
                    "group": "b",
                    "w": repr(float(ws[j])),
                    "item": "3",
                    "score": f"{round(float(scores[j]), 2):.2f}",
                }
            )
    return rows


if __name__ == "__main__":
    rows = make_rows()
    HERE.mkdir(parents=True, exist_ok=True)
    with open(HERE / "extreme.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["respondent_id", "school_id", "group", "w", "item", "score"])
        writer.writeheader()
        writer.writerows(rows)
