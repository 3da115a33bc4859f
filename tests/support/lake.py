"""Reading what ingestion landed, for assertions (DuckDB over the raw Parquet)."""

from __future__ import annotations

from pathlib import Path

import duckdb


def raw_rows(data_dir: Path, columns: str = "*"):
    files = list((data_dir / "lake" / "raw").rglob("*.parquet"))
    if not files:
        return []
    con = duckdb.connect()
    glob = str(data_dir / "lake" / "raw" / "**" / "*.parquet")
    return con.execute(
        f"select {columns} from read_parquet('{glob}', union_by_name=true, hive_partitioning=false)"
    ).fetchall()


def landed_ids(data_dir: Path) -> list[str]:
    return [r[0] for r in raw_rows(data_dir, "submission_id")]
