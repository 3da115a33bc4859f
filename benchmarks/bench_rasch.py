"""Benchmark the Rasch engine against R (eRm::PCM and psychotools::pcmodel) on the same data.

    .venv/bin/python benchmarks/bench_rasch.py [--small 20000] [--large 1000000] [--r-timeout 1200] [--skip-r]

Data: 12 items, 5 categories (0-4), 5% missing completely at random, seeded. The small data set is
fitted by both R packages (each in its own Rscript process; fit time measured inside R, excluding
reading) and by this engine (CML calibration only, and the full ``calibrate`` with WLE persons and fit).
The large data set times the engine's calibration and anchored scoring. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scoring_jobs.rasch import calibrate  # noqa: E402
from scoring_jobs.rasch.anchored import score_responses  # noqa: E402
from scoring_jobs.rasch.cml import fit_cml  # noqa: E402
from scoring_jobs.rasch.simulate import simulate_responses  # noqa: E402

R_SCRIPT = ROOT / "scoring_jobs" / "rasch" / "reference" / "psychotools_bench.R"
THRESHOLDS = np.array([[-1.6, -0.6, 0.4, 1.5]]) + np.linspace(-1.2, 1.2, 12)[:, None]


def make_data(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return simulate_responses(rng.normal(0, 1.2, n), THRESHOLDS, rng, missing=0.05)


def run_r(path: Path, pkg: str, timeout: float) -> tuple[float | None, float | None, str]:
    try:
        out = subprocess.run(["Rscript", str(R_SCRIPT), str(path), pkg], capture_output=True, text=True,
                             timeout=timeout, check=True).stdout
    except subprocess.TimeoutExpired:
        return None, None, f"> {timeout:.0f} s (stopped)"
    except (subprocess.CalledProcessError, FileNotFoundError) as exc:
        return None, None, f"failed: {exc}"
    m = re.search(r"seconds=([\d.]+) loglik=(-?[\d.]+)", out)
    return float(m.group(1)), float(m.group(2)), f"{float(m.group(1)):.2f} s"


def timed(fn, *args, **kw):
    t0 = time.perf_counter()
    res = fn(*args, **kw)
    return res, time.perf_counter() - t0


def bench_small(n: int, r_timeout: float, skip_r: bool) -> list[str]:
    resp = make_data(n, 1)
    res, t_cml = timed(fit_cml, resp, "pcm")
    _, t_full = timed(calibrate, resp, "pcm")
    lines = [f"| {n:,} × 12 | this engine, CML calibration | {t_cml:.3f} s | {res.loglik:.6f} |",
             f"| {n:,} × 12 | this engine, calibrate (CML + WLE + fit) | {t_full:.3f} s | |"]
    if skip_r:
        return lines
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.csv"
        df = pd.DataFrame(np.where(resp < 0, np.nan, resp), columns=[f"i{j + 1:02d}" for j in range(12)])
        df.to_csv(path, index=False, na_rep="NA", float_format="%.0f")
        fastest = None
        for pkg, label in (("psychotools", "psychotools::pcmodel"), ("erm", "eRm::PCM")):
            secs, ll, text = run_r(path, pkg, r_timeout)
            lines.append(f"| {n:,} × 12 | {label} | {text} | {'' if ll is None else f'{ll:.6f}'} |")
            if secs is not None:
                fastest = secs if fastest is None else min(fastest, secs)
    if fastest is not None:
        lines.append(f"| | **speed-up vs the faster R package (CML only)** | **{fastest / t_cml:.0f}×** | |")
    return lines


def bench_large(n: int) -> list[str]:
    resp, t_gen = timed(make_data, n, 2)
    res, t_cml = timed(fit_cml, resp, "pcm")
    cal, t_full = timed(calibrate, resp, "pcm")
    _, t_score = timed(score_responses, resp, cal.thresholds, cal.n_steps)
    return [
        f"| {n:,} × 12 | this engine, CML calibration | {t_cml:.2f} s | {res.loglik:.3f} |",
        f"| {n:,} × 12 | this engine, calibrate (CML + WLE + fit) | {t_full:.2f} s | |",
        f"| {n:,} × 12 | this engine, anchored scoring (WLE + person/item fit) | {t_score:.2f} s | |",
    ]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", type=int, default=20_000)
    ap.add_argument("--large", type=int, default=1_000_000)
    ap.add_argument("--r-timeout", type=float, default=1200.0)
    ap.add_argument("--skip-r", action="store_true")
    args = ap.parse_args(argv)
    print(f"machine: {platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"numpy {np.__version__}")
    print("| data | fit | time | conditional log-likelihood |\n|---|---|---|---|")
    for line in bench_small(args.small, args.r_timeout, args.skip_r):
        print(line, flush=True)
    if args.large:
        for line in bench_large(args.large):
            print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
