"""Warehouse benchmark: `dbt build` time on N simulated, validated submissions.

    .venv/bin/python benchmarks/bench_dbt.py --submissions 100000 1000000

For each size, in a fresh temporary LEAP_DATA_DIR: simulate N submissions (2 terms, both
instruments), decode them exactly as ingestion does (pseudonymized, raw Arrow schema) and write them
as raw Parquet files of up to 50,000 rows per lake partition, validate them with the real Great
Expectations suites (`leap validate run`), then time `dbt build` (seeds, models, data tests and unit
tests) — the number reported. Writes benchmarks/out/dbt.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ROWS_PER_FILE = 50_000


def land_raw(settings, submissions: int, seed: int) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from ingestion.decode import decode_run
    from ingestion.pseudonym import load_pseudonymizer
    from ingestion.sink import data_file_name, partition_dir
    from leap.instrument import load_catalog
    from simulator import SimConfig, simulate

    sim = simulate(SimConfig(seed=seed, resubmission_share=0.0).scaled_to(submissions))
    pseudo, _ = load_pseudonymizer(settings.layout.pseudonym_key)
    catalog = load_catalog()
    records = [(i, r.key, r.value) for i, r in enumerate(sim.records)]
    landed = 0
    for start in range(0, len(records), ROWS_PER_FILE):
        chunk = records[start:start + ROWS_PER_FILE]
        run = decode_run(chunk, 0, catalog, pseudo)
        for pkey, table in run.tables.items():
            target = partition_dir(settings.layout.raw, pkey) / data_file_name(settings.topic, 0, start, chunk[-1][0], 'bench')
            target.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(pa.Table.from_batches(table.to_batches(), table.schema), target, compression="zstd")
            landed += table.num_rows
    return landed


def bench(submissions: int, keep: Path | None = None) -> dict:
    tmp = keep / str(submissions) if keep else Path(tempfile.mkdtemp(prefix="leap-dbt-bench-"))
    os.environ["LEAP_DATA_DIR"] = str(tmp / "data")
    os.environ.setdefault("LEAP_PSEUDONYM_KEY", "44" * 32)
    from expectations.runner import run_validation
    from leap.config import load_settings
    from leap.orchestration.tasks import run_dbt

    settings = load_settings()
    try:
        t = time.perf_counter()
        landed = land_raw(settings, submissions, seed=11)
        prepare_s = time.perf_counter() - t
        t = time.perf_counter()
        report = run_validation(settings)
        validate_s = time.perf_counter() - t
        t = time.perf_counter()
        run_dbt(settings)
        build_s = time.perf_counter() - t
        return {"submissions": landed, "prepare_s": round(prepare_s, 1), "validate_s": round(validate_s, 1),
                "dbt_build_s": round(build_s, 1), "validation": str(report.__dict__.get("counts", "")),
                "slowest_nodes_s": slowest_nodes(settings)}
    finally:
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)


def slowest_nodes(settings, n: int = 12) -> dict[str, float]:
    """The dbt nodes that took longest in the last build (dbt's run_results.json)."""
    results = json.loads((settings.layout.dbt_target / "run_results.json").read_text())["results"]
    top = sorted(results, key=lambda r: r["execution_time"], reverse=True)[:n]
    return {r["unique_id"].split(".")[-1]: round(r["execution_time"], 1) for r in top}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--submissions", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--keep", type=Path, default=None,
                    help="build in DIR/<submissions> and keep it (to time single models with dbt afterwards)")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    results = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
               "runs": []}
    for n in args.submissions:
        r = bench(n, args.keep)
        print(json.dumps(r), flush=True)
        results["runs"].append(r)
    out = ROOT / "benchmarks" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "dbt.json").write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
