"""Operator actions on quarantined files: list them with their reasons, release one.

A release promotes a quarantined file into ``validated/`` and records who and why
(``lake/_validation/releases/``, and in the file's status record). Three ways:

- ``revalidated``: the raw file passes the current suites now (e.g. after a threshold change);
- ``fixed``: the operator supplies a corrected Parquet file (``--fixed PATH``); it must pass the
  suite, and *it* is promoted under the raw file's name (the raw file itself stays as landed);
- ``override``: the raw file still fails, and the operator promotes it anyway (``--override``),
  with the failed checks recorded next to the reason.

The quarantine copy and its result JSON move to ``quarantine/_released/`` (nothing is deleted).
"""

from __future__ import annotations

import getpass
import json
import os
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from expectations.store import Store
from leap.config import Settings
from leap.errors import LeapError
from leap.fsutil import atomic_target, sha256_file, write_atomic
from leap.layout import Layout


@dataclass
class Quarantined:
    file: str  # relative to raw/ (and to quarantine/)
    rows: int
    failed_checks: list[str]
    validated_at: str
    suite_sha256: str | None
    failed: list[dict]  # from the result JSON: check, column, unexpected_count, sample_unexpected, guards


def list_quarantined(settings: Settings) -> list[Quarantined]:
    zones = settings.layout
    out = []
    for st in Store(zones).all_status():
        if st["outcome"] != "quarantined":
            continue
        doc_path = zones.quarantine / f"{st['file']}.validation.json"
        failed = json.loads(doc_path.read_bytes())["failed"] if doc_path.exists() else []
        out.append(Quarantined(st["file"], st["rows"], st["failed_checks"], st["validated_at"],
                               st.get("suite_sha256"), failed))
    return out


def resolve(settings: Settings, ref: str) -> dict:
    """The status record of a quarantined file named by path (raw/, quarantine/, relative) or file name."""
    zones = settings.layout
    p = Path(ref)
    candidates = []
    for st in Store(zones).all_status():
        rel = st["file"]
        full = {zones.raw / rel, zones.quarantine / rel, zones.validated / rel}
        if ref in (rel, f"raw/{rel}", f"quarantine/{rel}", Path(rel).name) or p.resolve() in full:
            candidates.append(st)
    if not candidates:
        raise LeapError(f"no validated or quarantined file matches {ref!r}",
                        hint="`leap validate quarantine list` shows the quarantined files")
    if len(candidates) > 1:
        raise LeapError(f"{ref!r} matches {len(candidates)} files", hint="give the path under raw/")
    return candidates[0]


@dataclass
class ReleaseResult:
    file: str
    mode: str
    failed_checks: list[str]
    destination: Path


def _check(settings: Settings, st: dict, fixed: Path | None, override: bool):
    """(mode, outcome of the check, suite) of a release, or LeapError when it is refused."""
    from expectations.engine import SuiteRunner
    from expectations.runner import parse_partition
    from expectations.suites import load_suites

    suites = load_suites()
    part = parse_partition(Path(st["file"]))
    suite = suites.get(part["instrument"])
    if suite is None:
        raise LeapError(f"no suite for instrument {part['instrument']!r}; nothing to check the file against")
    source = fixed or settings.layout.raw / st["file"]
    if fixed is not None and not fixed.is_file():
        raise LeapError(f"the fixed file {fixed} does not exist")
    outcome = SuiteRunner({part["instrument"]: suite}).run_file(source, part["instrument"], part["school_year"],
                                                                part["term"])
    checks = [f["check"] for f in outcome.failed]
    if outcome.success:
        return ("fixed" if fixed else "revalidated"), outcome, suite
    if fixed is not None:
        raise LeapError(f"the fixed file still fails: {', '.join(checks)}", hint="fix those checks and retry",
                        exit_code=1)
    if not override:
        raise LeapError(f"{st['file']} still fails: {', '.join(checks)}",
                        hint="fix it (--fixed PATH) or promote it anyway with --override --reason …", exit_code=1)
    return "override", outcome, suite


def release(settings: Settings, ref: str, *, reason: str, by: str | None = None, fixed: Path | None = None,
            override: bool = False) -> ReleaseResult:
    """Promote a quarantined file (see the module docstring); raises LeapError when refused."""
    from expectations.runner import place_copy

    if not reason or not reason.strip():
        raise LeapError("a release needs a reason", hint="--reason 'what was checked or fixed'")
    zones = settings.layout
    st = resolve(settings, ref)
    if st["outcome"] != "quarantined":
        raise LeapError(f"{st['file']} is not quarantined (status: {st['outcome']})", exit_code=2)
    mode, outcome, suite = _check(settings, st, fixed, override)
    rel, now, who = st["file"], datetime.now(UTC), by or getpass.getuser()
    dest = zones.validated / rel
    if fixed is not None:
        with atomic_target(dest) as tmp:
            shutil.copyfile(fixed, tmp)
    else:
        place_copy(zones.raw / rel, dest)
    checks = [f["check"] for f in outcome.failed]
    row = {"released_at": now, "file_path": f"raw/{rel}", "released_by": who, "reason": reason, "mode": mode,
           "suite_sha256": suite.sha256, "failed_checks": checks, "promoted_sha256": sha256_file(dest),
           "fixed_from": str(fixed) if fixed else None}
    _archive(zones, rel, {**row, "released_at": now.isoformat()})
    Store(zones).append_release(row)
    Store(zones).put_status(rel, {**st, "outcome": "released", "destination": str(dest.relative_to(zones.lake)),
                                  "release": {**row, "released_at": now.isoformat()}})
    return ReleaseResult(rel, mode, checks, dest)


def _archive(zones: Layout, rel: str, record: dict) -> None:
    """Move the quarantine copy and its result JSON to quarantine/_released/, with the release record."""
    target = zones.released / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", ".validation.json"):
        src = zones.quarantine / f"{rel}{suffix}"
        if src.exists():
            os.replace(src, target.with_name(target.name + suffix))
    write_atomic(target.with_name(target.name + ".release.json"), json.dumps(record, indent=1).encode())
