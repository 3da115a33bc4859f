"""Where validation keeps its files, and the versioned thresholds of the expectations.

``LEAP_EXPECTATIONS_DIR`` points at the Great Expectations context (default: ``expectations/`` at
the repository root). Its committed parts are ``great_expectations.yml``, ``thresholds.yml`` and
``suites/*.json``; ``uncommitted/`` is ignored by git.

Lake zones (under ``$LEAP_DATA_DIR/lake``): ``raw/`` (ingestion, immutable), ``validated/`` (the
warehouse reads only this), ``quarantine/`` (failing files with their result JSON beside them) and
``_validation/`` (status records, results tables, release log, GE result documents).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import yaml

from leap.config import Settings
from leap.errors import LeapError

REPO_EXPECTATIONS = Path(__file__).resolve().parents[2] / "expectations"
THRESHOLD_KEYS = ("min_rows", "max_skip_share_per_item", "answered_share_mostly", "max_submissions_per_school")


def expectations_dir() -> Path:
    return Path(os.environ.get("LEAP_EXPECTATIONS_DIR") or REPO_EXPECTATIONS)


@dataclass(frozen=True)
class Zones:
    """The lake directories validation reads and writes."""

    lake: Path

    @classmethod
    def of(cls, settings: Settings) -> Zones:
        return cls(settings.lake_dir)

    @property
    def raw(self) -> Path:
        return self.lake / "raw"

    @property
    def validated(self) -> Path:
        return self.lake / "validated"

    @property
    def quarantine(self) -> Path:
        return self.lake / "quarantine"

    @property
    def meta(self) -> Path:
        return self.lake / "_validation"

    @property
    def status(self) -> Path:
        """One JSON record per raw file: its latest outcome (the exactly-once bookkeeping)."""
        return self.meta / "status"

    @property
    def results(self) -> Path:
        """Append-only Parquet: one row per file × expectation."""
        return self.meta / "results"

    @property
    def files(self) -> Path:
        """Append-only Parquet: one row per file and validation run."""
        return self.meta / "files"

    @property
    def releases(self) -> Path:
        """Append-only Parquet: one row per operator release (who, why, how)."""
        return self.meta / "releases"

    @property
    def gx_results(self) -> Path:
        """Great Expectations result documents of every run, the input of Data Docs."""
        return self.meta / "gx_results"


@dataclass(frozen=True)
class Thresholds:
    """Batch-level limits of one instrument (see ``expectations/thresholds.yml``)."""

    min_rows: int
    max_skip_share_per_item: float
    answered_share_mostly: float
    max_submissions_per_school: int


def load_thresholds(path: Path | None = None) -> tuple[int, dict[str, Thresholds]]:
    """(version, {instrument: Thresholds}); raises LeapError naming the bad key."""
    path = path or expectations_dir() / "thresholds.yml"
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise LeapError(f"cannot read the thresholds file {path}: {exc.strerror}",
                        hint="set LEAP_EXPECTATIONS_DIR to the expectations/ directory") from None
    defaults = doc.get("defaults") or {}
    out = {}
    for name, override in (doc.get("instruments") or {}).items():
        merged = {**defaults, **(override or {})}
        unknown = sorted(set(merged) - set(THRESHOLD_KEYS))
        missing = [k for k in THRESHOLD_KEYS if k not in merged]
        if unknown or missing:
            raise LeapError(f"{path}: instrument {name!r}: unknown keys {unknown}, missing keys {missing}",
                            hint=f"thresholds take {list(THRESHOLD_KEYS)}")
        out[name] = Thresholds(int(merged["min_rows"]), float(merged["max_skip_share_per_item"]),
                               float(merged["answered_share_mostly"]), int(merged["max_submissions_per_school"]))
    return int(doc.get("version", 0)), out
