"""The validation runner: every raw file validated exactly once, then promoted or quarantined.

For each raw file without a status record (or, with ``revalidate``, whose record names another
suite hash; with ``force``, every file that is not released):

1. read it into a DataFrame and run its instrument's suite (:class:`~expectations.engine.SuiteRunner`);
2. **pass**: hard-link (or copy) it to ``validated/<same partition path>`` under a temporary name,
   then rename into place; a copy left in quarantine by an earlier run is removed;
   **fail**: the same into ``quarantine/<same partition path>`` with ``<file>.validation.json``
   beside it (failed checks with sample values, and the full GE result); a copy in ``validated/``
   from an earlier run under an older suite is removed, so it never reaches the warehouse;
Small files are validated together: the pending files of one partition, in path order, form batches
of up to ``BATCH_ROWS`` rows (from the Parquet footers), each run through the suite as one DataFrame.
GE has a fixed cost of ~0.4 s per validation, so the 2-second flushes of a service-mode ingestion
(a few thousand rows each) validated one by one fall behind ingestion; batched, they do not
(BENCHMARKS.md). A batch that passes promotes each of its files; a batch that fails is validated again
file by file, so only the failing files are quarantined, each with its own result.

3. every ``CHUNK`` files: append the results tables, then write the chunk's status records
   (the commit point; see :mod:`expectations.store`).

Raw files are never moved, changed or deleted. A lock file keeps two runs from overlapping.
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from expectations.engine import Outcome
from expectations.store import Store, result_rows, unreadable_row, utc_stamp
from expectations.term_checks import check_terms
from leap.config import Settings
from leap.errors import LeapError
from leap.fsutil import atomic_target, write_atomic
from leap.layout import Layout
from leap.locks import validation_lock
from leap.parallel import ordered_map, worker_count

log = logging.getLogger(__name__)
CHUNK = 32
BATCH_ROWS = 200_000  # pending files of one partition validated as one batch up to this many rows
PARTITION_KEYS = ("instrument", "school_year", "term")


@dataclass(frozen=True)
class RawFile:
    path: Path
    rel: str  # relative to raw/, e.g. instrument=teacher/school_year=2024-25/term=fall/<name>.parquet
    instrument: str
    school_year: str
    term: str


@dataclass
class RunReport:
    run_id: str
    validated: list[tuple[str, int]] = field(default_factory=list)  # (rel, rows)
    quarantined: list[tuple[str, int, list[str]]] = field(default_factory=list)  # (rel, rows, checks)
    skipped: int = 0
    stale: int = 0  # done under another suite version and not re-validated (see --revalidate)
    seconds: float = 0.0
    term_checks: list[dict] = field(default_factory=list)  # batch statistics per term (expectations.term_checks)

    @property
    def rows(self) -> int:
        return sum(r for _, r in self.validated) + sum(r for _, r, _ in self.quarantined)


def _partition(rel: str) -> tuple[str, str, str]:
    parts = parse_partition(Path(rel))
    return parts["instrument"], parts["school_year"], parts["term"]


def parse_partition(rel: Path) -> dict[str, str] | None:
    parts = dict(p.split("=", 1) for p in rel.parts[:-1] if "=" in p)
    return parts if all(k in parts for k in PARTITION_KEYS) and len(rel.parts) == 4 else None


def discover(zones: Layout, instruments: list[str] | None = None) -> list[RawFile]:
    """Every landed raw file (in path order), optionally of some instruments only."""
    out = []
    for path in sorted(zones.raw.glob("instrument=*/school_year=*/term=*/*.parquet")):
        if path.name.startswith("."):
            continue
        rel = path.relative_to(zones.raw)
        part = parse_partition(rel)
        if part and (not instruments or part["instrument"] in instruments):
            out.append(RawFile(path, str(rel), part["instrument"], part["school_year"], part["term"]))
    return out


def plan(store: Store, files: list[RawFile], suites: dict, revalidate: bool, force: bool,
         report: RunReport) -> list[RawFile]:
    """The files to validate now; counts the skipped and stale ones into ``report``."""
    todo = []
    for f in files:
        st = store.status(f.rel)
        suite = suites.get(f.instrument)
        stale = st is not None and (suite is None or st.get("suite_sha256") != suite.sha256)
        if st is None or (st["outcome"] != "released" and (force or (revalidate and stale))):
            todo.append(f)
            continue
        report.skipped += 1
        report.stale += int(stale and st["outcome"] != "released")
    return todo


def parquet_rows(path: Path) -> int:
    import pyarrow.parquet as pq

    return pq.ParquetFile(path).metadata.num_rows


def batches(files: list[RawFile], max_rows: int = BATCH_ROWS) -> list[list[RawFile]]:
    """Consecutive files of one partition, up to ``max_rows`` rows a batch (a larger file alone); an
    unreadable footer counts as a full batch, so that file is validated alone."""
    out: list[list[RawFile]] = []
    rows = 0
    for f in files:
        try:
            n = parquet_rows(f.path)
        except Exception:  # noqa: BLE001 - unreadable: validated alone, and quarantined with why
            n = max_rows
        last = out[-1][-1] if out else None
        same = last is not None and (last.instrument, last.school_year, last.term) == (f.instrument, f.school_year,
                                                                                       f.term)
        if same and rows + n <= max_rows:
            out[-1].append(f)
            rows += n
        else:
            out.append([f])
            rows = n
    return out


# --------------------------------------------------------------------------- placement


def place_copy(src: Path, dest: Path) -> None:
    """Put ``src``'s bytes at ``dest`` atomically: hard link (or copy) to a temp name, rename."""
    import shutil

    with atomic_target(dest) as tmp:
        try:
            os.link(src, tmp)
        except OSError:  # another filesystem, or links not supported
            shutil.copyfile(src, tmp)


def _remove(path: Path) -> None:
    path.unlink(missing_ok=True)


def quarantine_doc(f: RawFile, outcome, suite, run_id: str, now: datetime) -> dict:
    return {"file": f.rel, "raw_path": str(f.path), "instrument": f.instrument, "school_year": f.school_year,
            "term": f.term, "rows": outcome.rows, "run_id": run_id, "validated_at": now.isoformat(),
            "suite": suite.name if suite else None, "suite_sha256": suite.sha256 if suite else None,
            "failed": outcome.failed, "error": outcome.error, "great_expectations_result": outcome.result}


def promote(zones: Layout, f: RawFile, src: Path | None = None) -> Path:
    dest = zones.validated / f.rel
    place_copy(src or f.path, dest)
    _remove(zones.quarantine / f.rel)
    _remove(zones.quarantine / f"{f.rel}.validation.json")
    return dest


def quarantine(zones: Layout, f: RawFile, doc: dict) -> Path:
    dest = zones.quarantine / f.rel
    write_atomic(zones.quarantine / f"{f.rel}.validation.json",
                 json.dumps(doc, indent=1, default=str).encode())
    place_copy(f.path, dest)
    _remove(zones.validated / f.rel)  # validated earlier under an older suite: withdraw it
    return dest


# --------------------------------------------------------------------------- the run


def batch_outcomes(piece: tuple[list[RawFile], dict]) -> list[tuple[Outcome, float]]:
    """Each file's outcome and seconds, for one batch of one partition and the run's suites (in a worker
    process): the batch validated as one DataFrame; when it fails, or a file cannot be read, each file on
    its own (only the failing files are then quarantined, each with its own result)."""
    batch, suites = piece
    runner, f = _suite_runner(suites), batch[0]
    if f.instrument not in runner.suites:
        return [(_no_suite(one), 0.0) for one in batch]
    if len(batch) > 1:
        t0 = time.perf_counter()
        try:
            outcome = runner.run_files([b.path for b in batch], f.instrument, f.school_year, f.term)
        except Exception:  # noqa: BLE001 - an unreadable file: each file alone says which
            outcome = None
        if outcome is not None and outcome.success:
            seconds = (time.perf_counter() - t0) / len(batch)
            doc = {**outcome.result, "meta": {**outcome.result.get("meta", {}),
                                              "leap_batch_files": [b.rel for b in batch]}}
            return [(Outcome(True, parquet_rows(one.path), doc), seconds) for one in batch]
    out = []
    for one in batch:
        t0 = time.perf_counter()
        out.append((runner.run_file(one.path, one.instrument, one.school_year, one.term), time.perf_counter() - t0))
    return out


_RUNNER: dict = {}


def _suite_runner(suites: dict):
    """The suites in GE, built once per process and suite version (GE's import and the suites: ~3 s)."""
    from expectations.engine import SuiteRunner

    key = tuple(sorted((name, s.sha256) for name, s in suites.items()))
    if key not in _RUNNER:
        _RUNNER.clear()
        _RUNNER[key] = SuiteRunner(suites)
    return _RUNNER[key]


def _no_suite(f: RawFile) -> Outcome:
    why = f"no expectation suite for instrument {f.instrument!r}"
    return Outcome(False, 0, {"success": False, "results": [], "error": why},
                   [{"check": "suite.exists", "type": "suite_lookup", "column": None, "guards": why,
                     "observed_value": f.instrument, "sample_unexpected": None}], why)


class _Run:
    """State of one run: places each validated file, buffers rows per chunk and commits them."""

    def __init__(self, zones: Layout, suites: dict, report: RunReport):
        self.zones, self.suites, self.report = zones, suites, report
        self.store = Store(zones)
        self.results: list[dict] = []
        self.files: list[dict] = []
        self.statuses: list[tuple[str, dict]] = []
        self.chunk = 0

    def place(self, f: RawFile, outcome: Outcome, seconds: float) -> None:
        """Promote or quarantine one file by its outcome, and record it."""
        t0 = time.perf_counter()
        now = datetime.now(UTC)
        suite = self.suites.get(f.instrument)
        base = {"run_id": self.report.run_id, "validated_at": now, "file_path": f"raw/{f.rel}",
                "instrument": f.instrument, "school_year": f.school_year, "term": f.term,
                "suite_name": suite.name if suite else None, "suite_sha256": suite.sha256 if suite else None}
        checks = [x["check"] for x in outcome.failed]
        if outcome.success:
            dest = promote(self.zones, f)
            self.report.validated.append((f.rel, outcome.rows))
        else:
            dest = quarantine(self.zones, f, quarantine_doc(f, outcome, suite, self.report.run_id, now))
            self.report.quarantined.append((f.rel, outcome.rows, checks))
            log.info("quarantined %s (%d rows): %s", f.rel, outcome.rows, ", ".join(checks))
        self._record(f, outcome, base, checks, dest, seconds + time.perf_counter() - t0)

    def _record(self, f: RawFile, outcome, base: dict, checks: list[str], dest: Path, seconds: float) -> None:
        rows = result_rows(outcome.result, base) if outcome.result.get("results") else [
            unreadable_row(base, outcome.error or "not validated")]
        self.results.extend(rows)
        label = "validated" if outcome.success else "quarantined"
        stats = outcome.result.get("statistics") or {}
        self.files.append({**base, "rows": outcome.rows, "outcome": label,
                           "evaluated_expectations": stats.get("evaluated_expectations", 0),
                           "failed_expectations": len(checks), "failed_checks": checks,
                           "destination": str(dest.relative_to(self.zones.lake)), "seconds": seconds})
        self.statuses.append((f.rel, {
            "file": f.rel, "outcome": label, "rows": outcome.rows, "run_id": base["run_id"],
            "validated_at": base["validated_at"].isoformat(), "suite": base["suite_name"],
            "suite_sha256": base["suite_sha256"], "failed_checks": checks,
            "destination": str(dest.relative_to(self.zones.lake))}))
        if outcome.result.get("results") and base["suite_name"]:
            self._save_gx_result(f, outcome.result, base)
        if len(self.statuses) >= CHUNK:
            self.commit()

    def _save_gx_result(self, f: RawFile, doc: dict, base: dict) -> None:
        path = self.zones.gx_results / base["suite_name"] / self.report.run_id / f"{f.rel}.json"
        meta = {**doc.get("meta", {}), "leap_file": f"raw/{f.rel}", "run_id": base["run_id"],
                "validated_at": base["validated_at"].isoformat()}
        write_atomic(path, json.dumps({**doc, "meta": meta}, default=str).encode())

    def commit(self) -> None:
        if not self.statuses:
            return
        self.store.append(self.report.run_id, self.chunk, self.results, self.files)
        for rel, record in self.statuses:
            self.store.put_status(rel, record)
        self.results, self.files, self.statuses = [], [], []
        self.chunk += 1


def _workers(todo: list[RawFile]) -> int:
    """Worker processes for a run: one per full batch of rows, up to ``LEAP_WORKERS``. A worker's start
    (GE's import, ~3 s) costs about what validating a batch does, so small runs stay in this process."""
    rows = 0
    for f in todo:
        try:
            rows += parquet_rows(f.path)
        except Exception:  # noqa: BLE001 - unreadable: it will be quarantined, it weighs nothing
            continue
    return worker_count(max(1, rows // BATCH_ROWS))


def run_validation(settings: Settings, *, instruments: list[str] | None = None, revalidate: bool = False,
                   force: bool = False, on_file: Callable[[int, int], None] | None = None) -> RunReport:
    """Validate every pending raw file of the lake; see the module docstring."""
    from expectations.suites import load_suites

    zones = settings.layout
    suites = load_suites()
    unknown = sorted(set(instruments or []) - set(suites))
    if unknown:
        raise LeapError(f"no suite for instrument(s) {unknown}", hint=f"known: {sorted(suites)}")
    started = time.perf_counter()
    report = RunReport(run_id=f"{utc_stamp(datetime.now(UTC))}-{uuid.uuid4().hex[:8]}")
    with validation_lock(settings):
        store = Store(zones)
        todo = plan(store, discover(zones, instruments), suites, revalidate, force, report)
        if todo:
            run, done = _Run(zones, suites, report), 0
            work = batches(todo)
            outcomes_of = ordered_map(batch_outcomes, ((b, suites) for b in work), _workers(todo))
            with closing(outcomes_of):  # placing a file fails: no worker outlives the lock
                for batch, outcomes in zip(work, outcomes_of, strict=True):
                    for one, (outcome, seconds) in zip(batch, outcomes, strict=True):
                        run.place(one, outcome, seconds)
                    done += len(batch)
                    if on_file:
                        on_file(done, len(todo))
            run.commit()
            report.term_checks = check_terms(settings, {_partition(rel) for rel, _ in report.validated})
    report.seconds = time.perf_counter() - started
    return report
