"""Validation benchmark: submissions per second through ``run_validation`` (read Parquet, run the
suite with GE's pandas engine, promote/quarantine, record results).

    .venv/bin/python benchmarks/bench_validate.py [--rows 50000] [--files 3] [--small-rows 5000]

For each instrument: simulates about ``--rows`` submissions of one term (seeded), decodes them
exactly as ingestion does (``ingestion.decode.decode_run``: validation, pseudonymization, Arrow),
lands the table as ``--files`` raw files of that many rows, and times ``run_validation`` over them
in a fresh lake (GE imported and suites loaded before timing; the ingestion benchmark likewise
excludes process start). A second pass splits the same rows into files of ``--small-rows`` rows
(the size the ingestion sink writes at its default ``LEAP_FLUSH_RECORDS=5000``) to show the
per-file overhead of GE (the files of a partition are validated as one batch of up to 200,000 rows
since issue 14, so both passes now measure batches). Prints a table and writes ``benchmarks/out/validate.json``.
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
import uuid
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
TOPIC = "leap.survey-submissions.v1"


def simulated_table(instrument: str, rows: int):
    from ingestion.decode import decode_run
    from ingestion.pseudonym import Pseudonymizer
    from leap.instrument import load_catalog
    from simulator import SimConfig, simulate

    config = SimConfig(seed=7, instruments=(instrument,), terms=("fall",), resubmission_share=0.0,
                       double_answer_share=0.0).scaled_to(rows)
    records = [(i, r.key, r.value) for i, r in enumerate(simulate(config).records)]
    tables = decode_run(records, 0, load_catalog(), Pseudonymizer(bytes.fromhex("42" * 32))).tables
    return tables[(instrument, "2024-25", "fall")].slice(0, rows)


def land(settings, table, files: int, rows_per_file: int) -> int:
    from ingestion.sink import data_file_name, partition_dir

    shutil.rmtree(settings.layout.lake, ignore_errors=True)
    n = 0
    for f in range(files):
        if f:  # another batch of the same answers, as other submissions (ids unique across the lake)
            ids = [str(uuid.UUID(int=(f << 64) + i, version=4)) for i in range(table.num_rows)]
            table = table.set_column(table.schema.get_field_index("submission_id"), "submission_id", pa.array(ids))
        for start in range(0, table.num_rows, rows_per_file):
            part = table.slice(start, rows_per_file)
            key = (table.column("instrument")[0].as_py(), "2024-25", "fall")
            path = partition_dir(settings.layout.raw, key) / data_file_name(TOPIC, f, start, start + part.num_rows - 1)
            path.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(part, path, compression="zstd")
            n += part.num_rows
    return n


def timed_run(settings) -> tuple[float, object]:
    from expectations.runner import run_validation

    start = time.perf_counter()
    report = run_validation(settings)
    return time.perf_counter() - start, report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=50_000)
    ap.add_argument("--files", type=int, default=3)
    ap.add_argument("--small-rows", type=int, default=5_000)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="leap-bench-validate-"))
    os.environ["LEAP_DATA_DIR"] = str(tmp)
    from expectations.engine import SuiteRunner
    from expectations.suites import load_suites
    from leap.config import load_settings

    settings = load_settings()
    SuiteRunner(load_suites())  # warm: GE imported, custom expectations registered
    rows_out = []
    try:
        for instrument in ("teacher", "student"):
            table = simulated_table(instrument, args.rows)
            for label, per_file, files in ((f"{args.rows:,}-row files", args.rows, args.files),
                                           (f"{args.small_rows:,}-row files", args.small_rows, 1)):
                n = land(settings, table, files, per_file)
                seconds, report = timed_run(settings)
                assert not report.quarantined, report.quarantined
                nfiles = len(report.validated)
                rows_out.append({"instrument": instrument, "batch": label, "files": nfiles, "submissions": n,
                                 "expectations": len(load_suites()[instrument].doc["expectations"]),
                                 "seconds": round(seconds, 3), "per_file_s": round(seconds / nfiles, 3),
                                 "submissions_per_s": round(n / seconds)})
                print(f"{instrument:8s} {label:18s} files {nfiles:3d}  submissions {n:7,d}  "
                      f"{seconds:6.2f} s  {seconds / nfiles:5.2f} s/file  {n / seconds:9,.0f} submissions/s",
                      flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    out = {"measured_at": datetime.now().isoformat(timespec="seconds"), "python": platform.python_version(),
           "machine": f"{os.cpu_count()} cores, {platform.system()} {platform.release()}", "results": rows_out}
    (ROOT / "benchmarks" / "out").mkdir(exist_ok=True)
    (ROOT / "benchmarks" / "out" / "validate.json").write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
