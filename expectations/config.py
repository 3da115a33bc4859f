"""Where the suites live, and the versioned thresholds of the expectations.

``LEAP_EXPECTATIONS_DIR`` points at another Great Expectations context (default: this folder,
``expectations/``). Its committed parts are ``great_expectations.yml``, ``thresholds.yml`` and
``suites/*.json``; ``uncommitted/`` is ignored by git. The lake zones validation reads and writes are
named in :mod:`leap.layout`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import yaml

from leap.errors import LeapError

REPO_EXPECTATIONS = Path(__file__).resolve().parent
THRESHOLD_KEYS = ("min_rows", "max_skip_share_per_item", "answered_share_mostly", "max_submissions_per_school",
                  "min_rows_for_batch_statistics")


def expectations_dir() -> Path:
    return Path(os.environ.get("LEAP_EXPECTATIONS_DIR") or REPO_EXPECTATIONS)


@dataclass(frozen=True)
class Thresholds:
    """Batch-level limits of one instrument (see ``expectations/thresholds.yml``)."""

    min_rows: int
    max_skip_share_per_item: float
    answered_share_mostly: float
    max_submissions_per_school: int
    min_rows_for_batch_statistics: int  # a file with fewer rows is not judged on a share (skips, answered)


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
                               float(merged["answered_share_mostly"]), int(merged["max_submissions_per_school"]),
                               int(merged["min_rows_for_batch_statistics"]))
    return int(doc.get("version", 0)), out
