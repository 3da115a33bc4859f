"""The warehouse: dbt (dbt-duckdb) builds over the validated lake, and publishing for BI.

- :func:`dbt` runs a dbt command on ``dbt_project/`` with the platform's environment, holding an
  exclusive lock so two dbt runs never write the warehouse at once (the Airflow DAGs and the CLI
  share it). dbt writes its ``target/`` and logs under ``$LEAP_DATA_DIR/dbt/``.
- :func:`publish` gives BI tools a copy they can read without blocking the pipeline: every table of
  the ``marts`` schema as Parquet under ``$LEAP_DATA_DIR/published/marts/`` and a DuckDB file
  ``$LEAP_DATA_DIR/published/marts.duckdb`` (tables in its main schema), both replaced atomically (readers see the old or the new
  version, never half of one).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from leap.config import Settings
from leap.errors import LeapError

PROJECT_DIR = Path(__file__).resolve().parents[1] / "dbt_project"


def warehouse_path(settings: Settings) -> Path:
    return settings.data_dir / "warehouse" / "leap.duckdb"


def published_dir(settings: Settings) -> Path:
    return settings.data_dir / "published"


@contextmanager
def warehouse_lock(settings: Settings, timeout: float = 3600.0):
    """Exclusive lock on the warehouse for the duration of a dbt run or a publish."""
    path = settings.data_dir / "warehouse" / ".dbt.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise LeapError("another dbt run holds the warehouse lock",
                                    hint=f"wait for it to finish (lock: {path})") from None
                time.sleep(0.5)
        yield
    finally:
        os.close(fd)


def dbt_env(settings: Settings) -> dict[str, str]:
    return {**os.environ, "LEAP_DATA_DIR": str(settings.data_dir), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "DBT_TARGET_PATH": str(settings.data_dir / "dbt" / "target"),
            "DBT_LOG_PATH": str(settings.data_dir / "dbt" / "logs")}


def dbt(settings: Settings, *args: str, quiet: bool = False) -> subprocess.CompletedProcess:
    """Run ``dbt ARGS`` on the project under the warehouse lock; raise LeapError when it fails."""
    exe = Path(sys.executable).with_name("dbt")
    cmd = [str(exe if exe.exists() else "dbt"), *args, "--project-dir", str(PROJECT_DIR),
           "--profiles-dir", str(PROJECT_DIR)]
    warehouse_path(settings).parent.mkdir(parents=True, exist_ok=True)
    with warehouse_lock(settings):
        proc = subprocess.run(cmd, env=dbt_env(settings), text=True,
                              stdout=subprocess.PIPE if quiet else None, stderr=subprocess.STDOUT if quiet else None)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout or "").splitlines()[-25:]) if quiet else ""
        raise LeapError(f"dbt {' '.join(args)} failed (exit {proc.returncode})\n{tail}".rstrip(),
                        hint=f"see {settings.data_dir / 'dbt' / 'logs' / 'dbt.log'}")
    return proc


@dataclass
class Published:
    duckdb_file: Path
    parquet_dir: Path
    tables: dict[str, int]


def publish(settings: Settings) -> Published:
    """Export the marts as Parquet files and a read-only DuckDB snapshot, atomically."""
    import duckdb

    source = warehouse_path(settings)
    if not source.exists():
        raise LeapError(f"no warehouse at {source}", hint="build it first with `leap warehouse build`")
    out = published_dir(settings)
    out.mkdir(parents=True, exist_ok=True)
    stage = out / f".stage-{os.getpid()}"
    shutil.rmtree(stage, ignore_errors=True)
    (stage / "marts").mkdir(parents=True)
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
                con.execute(f"copy main.{t} to '{stage / 'marts' / (t + '.parquet')}' (format parquet)")
                counts[t] = con.execute(f"select count(*) from main.{t}").fetchone()[0]
            con.execute("detach wh")
        finally:
            con.close()
    _swap(stage / "marts", out / "marts")
    os.replace(stage / "snapshot.duckdb", out / "marts.duckdb")
    shutil.rmtree(stage, ignore_errors=True)
    return Published(out / "marts.duckdb", out / "marts", counts)


def _swap(new_dir: Path, target: Path) -> None:
    """Replace a directory by another as close to atomically as POSIX allows (rename, then clean up)."""
    old = target.with_name(f".{target.name}.old-{os.getpid()}")
    if target.exists():
        os.replace(target, old)
    os.replace(new_dir, target)
    shutil.rmtree(old, ignore_errors=True)
