"""Benchmark the scoring job end to end: warehouse → anchored WLE on 3 scales → the lake's scoring tables.

    .venv/bin/python benchmarks/bench_scoring.py [--n 1000000] [--calibration-n 20000] [--data-dir DIR]

Synthesizes the warehouse input tables directly (``intermediate.int_respondents`` and the wide
``staging.stg_lake__student_submissions`` for the student instrument: 7 items per scale LF/LD/LL plus 3 LC,
5 categories, PCM draws with 4% missing), calibrates the item bank on a small fall administration with
:func:`scoring_jobs.item_bank.calibrate_reference`, then times :func:`scoring_jobs.term_scores.score_term` for a spring
administration of ``--n`` respondents: reading from DuckDB, scoring every respondent on the three scales,
levels, drift, and replacing the term's partition file of ``scoring.respondent_scores``
(``--n`` × 3 rows, scoring_jobs.tables). Prints the timings as Markdown.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

YEAR = "2024-25"


def _synthesize(con, n: int, term: str, rng: np.random.Generator, catalog) -> None:
    from simulator import draw_pcm

    ins = catalog.latest("student")
    n_schools = max(1, n // 80)
    school = rng.integers(0, n_schools, n)
    ids = [f"{term}-{i:09d}" for i in range(n)]
    frame = pd.DataFrame({
        "instrument": "student", "school_year": YEAR, "term": term, "submission_id": ids,
        "respondent_key": [f"r{i:09d}" for i in range(n)], "school_id": [f"s{s:06d}" for s in school],
        "grade_band": np.array(["elementary", "middle", "high"])[school % 3],
        "sample": np.array(["national", "nextgen", "leap_network"])[school % 3],
    })
    wide = pd.DataFrame({"submission_id": ids, "instrument_version": ins.version})
    for j, comp in enumerate(("LF", "LD", "LL", "LC")):
        items = ins.scale_items(comp)
        item_rng = np.random.default_rng(100 + j)  # the same item parameters in every term
        thr = np.sort(item_rng.normal(0.0, 1.0, (len(items), 4)), axis=1) + item_rng.normal(0, 0.5, (len(items), 1))
        theta = rng.normal(0.3 * j + (0.2 if term == "spring" else 0.0), 1.0, n)
        resp = draw_pcm(np.repeat(theta[:, None], len(items), axis=1), thr, rng).astype("float64")
        resp[rng.random(resp.shape) < 0.04] = np.nan
        for k, item in enumerate(items):
            wide[item.item_id] = pd.array(resp[:, k], dtype="Int8")
    con.register("f", frame)
    con.register("w", wide)
    con.execute("insert into intermediate.int_respondents select * from f")
    con.execute("insert into staging.stg_lake__student_submissions by name select * from w")
    con.unregister("f")
    con.unregister("w")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--calibration-n", type=int, default=20_000)
    ap.add_argument("--data-dir", type=Path)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="bench-scoring-"))
    os.environ["LEAP_DATA_DIR"] = str(data_dir)

    import duckdb

    from leap.config import load_settings
    from leap.instrument import load_catalog
    from scoring_jobs import tables
    from scoring_jobs.item_bank import calibrate_reference
    from scoring_jobs.term_scores import score_term

    settings = load_settings()
    catalog = load_catalog()
    path = settings.layout.warehouse
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.unlink()
    con = duckdb.connect(str(path))
    con.execute("create schema intermediate; create schema staging")
    con.execute("""create table intermediate.int_respondents (instrument varchar, school_year varchar,
        term varchar, submission_id varchar, respondent_key varchar, school_id varchar, grade_band varchar,
        sample varchar)""")
    for name in ("student", "teacher"):
        cols = ", ".join(f"{i} tinyint" for i in catalog.item_columns(name))
        con.execute(f"create table staging.stg_lake__{name}_submissions (submission_id varchar, "
                    f"instrument_version varchar, {cols})")
    rng = np.random.default_rng(args.seed)
    t0 = time.perf_counter()
    _synthesize(con, args.calibration_n, "fall", rng, catalog)
    _synthesize(con, args.n, "spring", rng, catalog)
    con.close()
    t_syn = time.perf_counter() - t0

    t0 = time.perf_counter()
    cal = calibrate_reference(settings, YEAR, "fall")
    t_cal = time.perf_counter() - t0
    t0 = time.perf_counter()
    result = score_term(settings, YEAR, "spring", calibration_id=cal["calibration_id"])
    t_score = time.perf_counter() - t0
    con = tables.connect(settings)
    n_rows = con.execute("select count(*) from scoring.respondent_scores where term = 'spring'").fetchone()[0]
    con.close()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"python {platform.python_version()}")
    print("| step | respondents | rows written | seconds |")
    print("|---|---:|---:|---:|")
    print(f"| synthesize warehouse inputs (not timed in target) | {args.calibration_n + args.n:,} | | {t_syn:.1f} |")
    print(f"| calibrate_reference (fall, 3 scales) | {args.calibration_n:,} | | {t_cal:.1f} |")
    print(f"| **score_term (spring, 3 scales, warehouse → lake files)** | {args.n:,} | {n_rows:,} | "
          f"**{t_score:.1f}** |")
    print(f"scored {result['scored']:,}, not scored {result['not_scored']:,}, "
          f"drifting items {result['drifting_items']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
