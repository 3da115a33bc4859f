"""DIF at national size: N respondents × 3 scales × 5 groupings, the work of the calibration DAG's
``item_dif`` task (``scoring_jobs.rasch.dif.dif_analysis`` per scale × grouping).

    .venv/bin/python benchmarks/bench_dif.py --persons 1000000 [--seed 1]

The data are drawn like the simulator's students: three scales of 7 five-category items (the student
instrument's LF, LD, LL), abilities N(0.3, 1) correlated across nothing (each scale on its own), each
person skipping items with a probability from Beta(0.6, 14.4) (mean 4%, some respondents skip much
more: the simulator's `skip_share`), and five groupings with the level shares of the simulated
demographics and design (gender 2 levels, race/ethnicity 5, parent education 5, grade band 3, sample
3). One planted DIF item per scale for the race/ethnicity grouping (0.3 logit harder for one group), so
the output says whether it was found. Records per scale × grouping the wall time, and the whole run's
time and peak RSS; writes ``benchmarks/out/dif.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import time
from pathlib import Path

import numpy as np

from scoring_jobs.rasch.dif import dif_analysis
from scoring_jobs.rasch.simulate import simulate_responses

GROUPINGS = {
    "gender": (["female", "male"], [0.5, 0.5]),
    "race_ethnicity": (["white", "hispanic", "black", "asian", "two_or_more"], [0.46, 0.28, 0.15, 0.06, 0.05]),
    "parent_education": (["less_than_high_school", "high_school", "some_college", "bachelors", "graduate"],
                         [0.1, 0.25, 0.3, 0.2, 0.15]),
    "grade_band": (["elementary", "middle", "high"], [0.4, 0.3, 0.3]),
    "sample": (["national", "nextgen", "leap_network"], [0.6, 0.2, 0.2]),
}
N_ITEMS, N_CATEGORIES, PLANTED = 7, 5, 0.3


def _data(n: int, rng: np.random.Generator):
    groups = {g: rng.choice(levels, size=n, p=p).astype(object) for g, (levels, p) in GROUPINGS.items()}
    skip = rng.beta(0.6, 14.4, size=n)
    scales = []
    for _ in range(3):
        thr = np.sort(rng.normal(0, 1.2, (N_ITEMS, N_CATEGORIES - 1)), axis=1)
        theta = rng.normal(0.3, 1.0, n)
        resp = simulate_responses(theta, thr, rng)
        hispanic = groups["race_ethnicity"] == "hispanic"  # item 0 is PLANTED logits harder for them
        shifted = thr.copy()
        shifted[0] += PLANTED
        resp[hispanic] = simulate_responses(theta[hispanic], shifted, rng)
        resp[rng.random(resp.shape) < skip[:, None]] = -1
        scales.append(resp)
    return groups, scales


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--persons", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    groups, scales = _data(args.persons, rng)
    rows, start = [], time.perf_counter()
    names = [f"i{k}" for k in range(N_ITEMS)]
    for s, resp in enumerate(scales):
        for g, labels in groups.items():
            t = time.perf_counter()
            r = dif_analysis(resp, labels, item_names=names)
            planted = r.items[(r.items["item"] == "i0") & (r.items["group"] == "hispanic")]
            rows.append({"scale": s, "grouping": g, "seconds": round(time.perf_counter() - t, 2),
                         "flagged": int(r.items["flagged"].sum()), "testable_rows": int(r.items["testable"].sum()),
                         "planted_found": bool(planted["flagged"].any()) if g == "race_ethnicity" else None,
                         "lr_p": float(r.lr["p_value"].iloc[0])})
            print(rows[-1], flush=True)
    total = round(time.perf_counter() - start, 1)
    peak_gb = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2, 2)
    out = {"persons": args.persons, "scales": 3, "groupings": len(GROUPINGS), "seconds": total,
           "peak_rss_gb": peak_gb, "machine": f"{platform.machine()}, {__import__('os').cpu_count()} cores",
           "rows": rows}
    path = Path(__file__).parent / "out" / "dif.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(f"{args.persons:,} persons x 3 scales x {len(GROUPINGS)} groupings: {total} s, peak RSS {peak_gb} GB")


if __name__ == "__main__":
    main()
