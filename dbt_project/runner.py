"""Running dbt (dbt-duckdb) on this project over the validated lake.

:func:`dbt` runs a dbt command with the platform's environment, holding the warehouse lock
(:func:`leap.locks.warehouse_lock`) so two dbt runs never write the warehouse at once (the Airflow
DAGs and the CLI share it). dbt reads its paths from the environment :meth:`leap.layout.Layout.dbt_env`
builds (``profiles.yml`` and the source YAML use ``env_var``), and writes ``target/`` and its logs
under ``$LEAP_DATA_DIR/dbt/``.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

from leap.config import Settings
from leap.errors import LeapError
from leap.locks import warehouse_lock

PROJECT_DIR = Path(__file__).resolve().parent
log = logging.getLogger(__name__)


def dbt_env(settings: Settings) -> dict[str, str]:
    return {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "LEAP_MIN_CELL_N": str(settings.min_cell_n),
            "LEAP_MIN_CLASSROOM_N": str(settings.min_classroom_n),
            "LEAP_MIN_RESPONSE_RATE": repr(settings.min_response_rate), "LEAP_DUCKDB_MEMORY": settings.duckdb_memory,
            **settings.layout.dbt_env()}


def dbt(settings: Settings, *args: str, quiet: bool = False) -> subprocess.CompletedProcess:
    """Run ``dbt ARGS`` on the project under the warehouse lock; raise LeapError when it fails."""
    exe = Path(sys.executable).with_name("dbt")
    cmd = [str(exe if exe.exists() else "dbt"), *args, "--project-dir", str(PROJECT_DIR),
           "--profiles-dir", str(PROJECT_DIR)]
    settings.layout.warehouse.parent.mkdir(parents=True, exist_ok=True)
    settings.layout.restricted.mkdir(parents=True, exist_ok=True)  # external models write there
    with warehouse_lock(settings):
        # colours only for a person at a terminal (captured or piped output would show the escape codes)
        colours = not quiet and sys.stdout.isatty()
        proc = subprocess.run(cmd, env={**dbt_env(settings), "DBT_USE_COLORS": str(colours).lower()}, text=True,
                              stdout=subprocess.PIPE if quiet else None, stderr=subprocess.STDOUT if quiet else None)
    if quiet:  # dbt's closing line (counts of models and tests) for the logs; the rest is in dbt.log
        done = [line for line in (proc.stdout or "").splitlines() if "Done. PASS=" in line]
        log.info("dbt %s: %s", args[0], done[-1].split("Done. ", 1)[1] if done else f"exit {proc.returncode}")
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout or "").splitlines()[-25:]) if quiet else ""
        raise LeapError(f"dbt {' '.join(args)} failed (exit {proc.returncode})\n{tail}".rstrip(),
                        hint=failure_hint(settings, proc.stdout or ""))
    return proc


# DuckDB's words when the data it spills past its memory limit do not fit: its own cap on the temporary
# directory (max_temp_directory_size, by default 90% of the disk free when it starts), or the disk itself.
_SPILL_FULL = ("max_temp_directory_size", "No space left on device")


def failure_hint(settings: Settings, output: str) -> str:
    """What to do next after a failed dbt run whose captured ``output`` is given: for a full disk, where
    the spill goes and the two ways out; otherwise, the log to read."""
    log_file = settings.layout.dbt_logs / "dbt.log"
    if any(words in output for words in _SPILL_FULL):
        spill = settings.layout.warehouse.with_name(settings.layout.warehouse.name + ".tmp")
        return (f"DuckDB's temporary files ({spill}) filled the disk: what does not fit LEAP_DUCKDB_MEMORY "
                f"({settings.duckdb_memory}) is spilled there (docs/warehouse.md, Resources). Free disk space on that "
                f"drive or raise LEAP_DUCKDB_MEMORY, then run the step again; see {log_file}")
    return f"see {log_file}"
