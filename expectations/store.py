"""Validation bookkeeping under ``lake/_validation/``, readable by the warehouse (DuckDB, dbt sources).

- ``status/<instrument=…/school_year=…/term=…/file>.json``: the latest state of each raw file
  (``validated`` | ``quarantined`` | ``released``), suite name and sha256, run id. Written last,
  atomically: it is the commit point that makes a raw file "done", so a crash before it means the
  file is validated again (placement is idempotent: same names, atomic renames).
- ``results/<run_id>-<chunk>.parquet``: append-only, one row per file × expectation
  (:data:`RESULT_SCHEMA`).
- ``files/<run_id>-<chunk>.parquet``: append-only, one row per file per run (:data:`FILE_SCHEMA`).
- ``releases/<released_at>-<file>.parquet``: append-only, one row per operator release.

Results and file rows of a chunk are written before the chunk's status records, so every "done"
file has its rows; a crash in between leaves rows of an attempt that is then repeated (same
file, another run id). "Latest result per file" = rows whose run_id equals the status record's.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from leap.fsutil import atomic_target, write_atomic
from leap.layout import Layout

RESULT_SCHEMA = pa.schema([
    ("run_id", pa.string()), ("validated_at", pa.timestamp("us", tz="UTC")), ("file_path", pa.string()),
    ("instrument", pa.string()), ("school_year", pa.string()), ("term", pa.string()),
    ("suite_name", pa.string()), ("suite_sha256", pa.string()), ("expectation_id", pa.string()),
    ("check_name", pa.string()), ("expectation_type", pa.string()), ("column_name", pa.string()),
    ("success", pa.bool_()), ("observed_value", pa.string()), ("element_count", pa.int64()),
    ("unexpected_count", pa.int64()), ("unexpected_percent", pa.float64()),
    ("sample_unexpected_values", pa.string()), ("exception_message", pa.string()),
])
FILE_SCHEMA = pa.schema([
    ("run_id", pa.string()), ("validated_at", pa.timestamp("us", tz="UTC")), ("file_path", pa.string()),
    ("instrument", pa.string()), ("school_year", pa.string()), ("term", pa.string()), ("rows", pa.int64()),
    ("outcome", pa.string()), ("suite_name", pa.string()), ("suite_sha256", pa.string()),
    ("evaluated_expectations", pa.int64()), ("failed_expectations", pa.int64()),
    ("failed_checks", pa.list_(pa.string())), ("destination", pa.string()), ("seconds", pa.float64()),
])
RELEASE_SCHEMA = pa.schema([
    ("released_at", pa.timestamp("us", tz="UTC")), ("file_path", pa.string()), ("released_by", pa.string()),
    ("reason", pa.string()), ("mode", pa.string()), ("suite_sha256", pa.string()),
    ("failed_checks", pa.list_(pa.string())), ("promoted_sha256", pa.string()), ("fixed_from", pa.string()),
])


def write_table_atomic(table: pa.Table, path: Path) -> None:
    with atomic_target(path) as tmp:
        pq.write_table(table, tmp, compression="zstd")


def _json(value) -> str | None:
    return None if value is None else json.dumps(value, default=str, sort_keys=True)


class Store:
    """Status records and results tables of one lake."""

    def __init__(self, zones: Layout):
        self.zones = zones

    # ------------------------------------------------------------------ status records

    def status_path(self, rel: str) -> Path:
        """``rel``: the file's path relative to ``raw/``."""
        return self.zones.validation_status / f"{rel}.json"

    def status(self, rel: str) -> dict | None:
        path = self.status_path(rel)
        try:
            return json.loads(path.read_bytes())
        except FileNotFoundError:
            return None

    def all_status(self) -> list[dict]:
        root = self.zones.validation_status
        if not root.exists():
            return []
        return [json.loads(p.read_bytes()) for p in sorted(root.rglob("*.parquet.json"))]

    def put_status(self, rel: str, record: dict) -> None:
        write_atomic(self.status_path(rel), json.dumps(record, indent=1, default=str).encode())

    # ------------------------------------------------------------------ results tables

    def append(self, run_id: str, chunk: int, results: list[dict], files: list[dict]) -> None:
        name = f"{run_id}-{chunk:05d}.parquet"
        if results:
            write_table_atomic(pa.Table.from_pylist(results, schema=RESULT_SCHEMA), self.zones.validation_results / name)
        if files:
            write_table_atomic(pa.Table.from_pylist(files, schema=FILE_SCHEMA), self.zones.validation_files / name)

    def append_release(self, row: dict) -> Path:
        stamp = row["released_at"].strftime("%Y%m%dT%H%M%S%fZ")
        path = self.zones.validation_releases / f"{stamp}-{Path(row['file_path']).stem}.parquet"
        write_table_atomic(pa.Table.from_pylist([row], schema=RELEASE_SCHEMA), path)
        return path


def result_rows(doc: dict, base: dict) -> list[dict]:
    """One results-table row per expectation of a GE suite result; ``base`` holds the file columns."""
    rows = []
    for r in doc.get("results", []):
        cfg, res = r["expectation_config"], r.get("result") or {}
        exc = r.get("exception_info") or {}
        rows.append({
            **base, "expectation_id": cfg.get("id"), "check_name": cfg["meta"].get("check"),
            "expectation_type": cfg["type"], "column_name": cfg["kwargs"].get("column"),
            "success": bool(r["success"]), "observed_value": _json(res.get("observed_value")),
            "element_count": res.get("element_count"), "unexpected_count": res.get("unexpected_count"),
            "unexpected_percent": res.get("unexpected_percent"),
            "sample_unexpected_values": _json(res.get("partial_unexpected_list")),
            "exception_message": exc.get("exception_message") if exc.get("raised_exception") else None,
        })
    return rows


def unreadable_row(base: dict, reason: str) -> dict:
    """The results row of a file that could not be read at all."""
    return {**base, "expectation_id": None, "check_name": "file.readable", "expectation_type": "parquet_read",
            "column_name": None, "success": False, "observed_value": _json(reason), "element_count": None,
            "unexpected_count": None, "unexpected_percent": None, "sample_unexpected_values": None,
            "exception_message": reason}


def utc_stamp(ts: datetime) -> str:
    return ts.strftime("%Y%m%dT%H%M%SZ")
