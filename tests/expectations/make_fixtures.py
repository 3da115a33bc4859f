"""Regenerate the known-good / known-bad fixture files of every suite (deterministic).

    .venv/bin/python tests/expectations/make_fixtures.py

Each suite gets ``<suite>.good.parquet`` (a small, realistic raw file that must pass) and
``<suite>.bad.parquet`` (the good file with one realistic defect), and ``fixtures/cases.json``
states the partition of each file and exactly which checks the bad one must fail, and why.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from ingestion.decode import decode_run  # noqa: E402
from ingestion.pseudonym import Pseudonymizer  # noqa: E402
from leap.instrument import load_catalog  # noqa: E402
from simulator import SimConfig, simulate  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures"
KEY = bytes.fromhex("11" * 32)


def raw_tables(seed: int, schools: int) -> dict:
    config = SimConfig(seed=seed, resubmission_share=0.0, double_answer_share=0.0).with_total_schools(schools)
    records = [(i, r.key, r.value) for i, r in enumerate(simulate(config).records)]
    tables = decode_run(records, 0, load_catalog(), Pseudonymizer(KEY)).tables
    return {k: _fixed_ingest_time(t) for k, t in tables.items()}


def _fixed_ingest_time(table: pa.Table) -> pa.Table:
    """ingested_at is the wall clock at decoding: pin it so the fixture files are byte-identical."""
    idx = table.schema.get_field_index("ingested_at")
    when = pa.scalar(datetime(2025, 1, 1, tzinfo=UTC), pa.timestamp("us", tz="UTC"))
    return table.set_column(idx, table.schema.field(idx), pa.array([when] * table.num_rows))


def shift_year(table: pa.Table, column: str = "submitted_at") -> pa.Table:
    """Move every timestamp one year later (outside the term's window)."""
    ts = table.column(column)
    shifted = pc.add(ts, pa.scalar(365 * 86_400_000_000, pa.duration("us")))
    return table.set_column(table.schema.get_field_index(column), table.schema.field(column), shifted)


def leak_ids(table: pa.Table) -> pa.Table:
    """Replace the pseudonyms by raw-looking respondent ids (a producer bypassing pseudonymization)."""
    ids = pa.array([f"S-{s}-{i}" for i, s in enumerate(table.column("school_id").to_pylist())], pa.string())
    idx = table.schema.get_field_index("respondent_key")
    return table.set_column(idx, table.schema.field(idx), ids)


CASES = {
    "raw_teacher_submissions": {
        "partition": ("teacher", "2024-25", "fall"), "defect": shift_year,
        "bad_fails": {"window.submitted_at": "every submitted_at lies a year after the fall 2024 window"},
    },
    "raw_student_submissions": {
        "partition": ("student", "2024-25", "spring"), "defect": leak_ids,
        "bad_fails": {"pseudonym.respondent_key": "respondent_key holds raw respondent ids, not pseudonyms"},
    },
}


def main() -> None:
    tables = raw_tables(seed=11, schools=3)
    FIXTURES.mkdir(exist_ok=True)
    manifest = {}
    for suite, case in CASES.items():
        good = tables[case["partition"]]
        bad = case["defect"](good)
        pq.write_table(good, FIXTURES / f"{suite}.good.parquet", compression="zstd")
        pq.write_table(bad, FIXTURES / f"{suite}.bad.parquet", compression="zstd")
        instrument, year, term = case["partition"]
        manifest[suite] = {"instrument": instrument, "school_year": year, "term": term, "rows": good.num_rows,
                           "good": f"{suite}.good.parquet", "bad": f"{suite}.bad.parquet",
                           "bad_fails": case["bad_fails"]}
    (FIXTURES / "cases.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(json.dumps(manifest, indent=2))


if __name__ == "__main__":
    main()
