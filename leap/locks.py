"""The platform's named locks, all :class:`leap.fsutil.FileLock` on paths of :mod:`leap.layout`."""

from __future__ import annotations

from pathlib import Path

from leap.config import Settings
from leap.fsutil import FileLock


def warehouse_lock(settings: Settings, timeout: float = 3600.0) -> FileLock:
    """Held by every user of the warehouse file (dbt runs, publishing, the scoring jobs' reads): one at a time."""
    path = settings.layout.warehouse_lock
    return FileLock(path, timeout=timeout, message="another dbt run holds the warehouse lock",
                    hint=f"wait for it to finish (lock: {path})")


def scoring_lock(settings: Settings, timeout: float = 3600.0) -> FileLock:
    """Held while a scoring job checks and replaces partitions of the scoring tables (scoring_jobs.tables)."""
    path = settings.layout.scoring_lock
    return FileLock(path, timeout=timeout, message="another scoring job holds the scoring tables' lock",
                    hint=f"wait for it to finish (lock: {path})")


def validation_lock(settings: Settings) -> FileLock:
    """Held by a validation run; a second run fails at once (exit 3)."""
    return FileLock(settings.layout.validation_lock, message="another validation run holds the lake's validation lock",
                    hint="wait for it to finish", exit_code=3)


def partition_lock(path: Path, timeout: float) -> FileLock:
    """Held by the ingestion process that writes one Kafka partition into the lake."""
    return FileLock(path, timeout=timeout, message=f"another ingestion process holds {path}",
                    hint="stop it, or wait for its rebalance to finish")
