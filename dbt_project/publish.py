"""Publishing the marts for BI: a copy BI tools read without blocking the pipeline.

Aggregates only: every table of the warehouse's ``marts`` schema (respondent-level tables are built in
the ``restricted`` schema and never leave the warehouse) is written as Parquet under
``$LEAP_DATA_DIR/published/marts/`` and into a DuckDB file ``$LEAP_DATA_DIR/published/marts.duckdb``
(tables in its main schema), both replaced atomically: readers see the old or the new version,
never half of one.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from leap.config import Settings
from leap.errors import LeapError
from leap.locks import warehouse_lock


@dataclass
class Published:
    duckdb_file: Path
    parquet_dir: Path
    tables: dict[str, int]


def publish(settings: Settings) -> Published:
    """Export the marts as Parquet files and a read-only DuckDB snapshot, atomically."""
    import duckdb

    layout = settings.layout
    source = layout.warehouse
    if not source.exists():
        raise LeapError(f"no warehouse at {source}", hint="build it first with `leap warehouse build`")
    out = layout.published
    out.mkdir(parents=True, exist_ok=True)
    stage = out / f".stage-{os.getpid()}"
    staged_marts = stage / layout.published_marts.name  # swapped into place below
    shutil.rmtree(stage, ignore_errors=True)
    staged_marts.mkdir(parents=True)
    with warehouse_lock(settings):
        con = duckdb.connect(str(stage / "snapshot.duckdb"))
        try:
            con.execute(f"attach '{source}' as wh (read_only)")
            tables = [r[0] for r in con.execute(
                "select table_name from duckdb_tables() where database_name = 'wh' and schema_name = 'marts' "
                "order by table_name").fetchall()]
            counts = {}
            for t in tables:  # the snapshot holds the marts in its main schema: `select * from dim_items`
                con.execute(f"create table main.{t} as select * from wh.marts.{t}")
                con.execute(f"copy main.{t} to '{staged_marts / (t + '.parquet')}' (format parquet)")
                counts[t] = con.execute(f"select count(*) from main.{t}").fetchone()[0]
            con.execute("detach wh")
        finally:
            con.close()
    _swap(staged_marts, layout.published_marts)
    os.replace(stage / "snapshot.duckdb", layout.published_duckdb)
    shutil.rmtree(stage, ignore_errors=True)
    return Published(layout.published_duckdb, layout.published_marts, counts)


def _swap(new_dir: Path, target: Path) -> None:
    """Replace a directory by another as close to atomically as POSIX allows (rename, then clean up)."""
    old = target.with_name(f".{target.name}.old-{os.getpid()}")
    if target.exists():
        os.replace(target, old)
    os.replace(new_dir, target)
    shutil.rmtree(old, ignore_errors=True)
