"""The work of every DAG task, as plain functions of :class:`~leap.config.Settings`.

Each function runs without Airflow (the DAG files only call them), returns a small JSON-safe dict
(what Airflow keeps as the task's XCom) and is idempotent for its partition: draining an empty
topic lands nothing, validation handles each raw file once, dbt rebuilds the same marts from the
same validated files, scoring and growth rewrite their (school year, term) partition.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from leap.config import Settings
from leap.errors import LeapError

log = logging.getLogger(__name__)


class ScoringUnavailable(LeapError):
    """The scoring jobs (``scoring_jobs.jobs``) are not installed in this deployment."""


def jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def reports_dir(settings: Settings) -> Path:
    return settings.data_dir / "orchestration" / "reports"


def write_report(settings: Settings, name: str, payload: dict) -> Path:
    """Keep the last result of a task as JSON (what the run-all summary reads back)."""
    path = reports_dir(settings) / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload, indent=2, default=str))
    tmp.replace(path)
    return path


# -- ingestion ---------------------------------------------------------------------------------

def drain(settings: Settings, processes: int = 1) -> dict:
    """Bounded drain of the submissions topic into the raw lake (for deployments without the
    ingestion service). Re-running on a drained topic lands nothing."""
    from ingestion.consumer import run_ingestion, run_parallel_drain

    if processes > 1:
        stats = run_parallel_drain(settings, processes, progress=False)
    else:
        stats = run_ingestion(settings, "bounded", workers=0, progress=False, standalone=True)
    out = {"landed": stats.landed, "dead_lettered": stats.rejected, "duplicates": stats.duplicates,
           "files": stats.files}
    write_report(settings, "ingestion", out)
    return out


# -- validation --------------------------------------------------------------------------------

def validate(settings: Settings, revalidate: bool = False) -> dict:
    """Validate every raw file not validated yet: promote the passing ones, quarantine the others.

    A quarantined file is reported, not fatal: it never reaches the validated zone, so everything
    downstream (dbt, scoring, exports) runs on what was promoted only.
    """
    from leap.validation.runner import run_validation

    report = run_validation(settings, revalidate=revalidate)
    out = {"run_id": report.run_id,
           "validated_files": len(report.validated), "validated_rows": sum(r for _, r in report.validated),
           "partitions": sorted({rel.rsplit("/", 1)[0] for rel, _ in report.validated}),
           "quarantined": [{"file": rel, "rows": rows, "checks": list(checks)}
                           for rel, rows, checks in report.quarantined],
           "quarantined_rows": sum(r for _, r, _ in report.quarantined),
           "skipped": report.skipped}
    write_report(settings, "validation", out)
    return out


def report_quarantine(settings: Settings, result: dict) -> int:
    """Log every quarantined file of a validation run with its failed checks; return how many."""
    for q in result.get("quarantined", []):
        log.warning("QUARANTINED %s (%s rows): failed %s -- see %s.validation.json under %s", q["file"], q["rows"],
                    ", ".join(q["checks"]), q["file"], settings.lake_dir / "quarantine")
    return len(result.get("quarantined", []))


def validated_partitions(settings: Settings, school_year: str | None = None) -> list[dict[str, str]]:
    """The (school_year, term) partitions with promoted files, in order (fall before spring)."""
    root = settings.lake_dir / "validated"
    seen = set()
    for path in root.glob("instrument=*/school_year=*/term=*/*.parquet"):
        parts = dict(p.split("=", 1) for p in path.relative_to(root).parts[:-1])
        if school_year in (None, "", parts["school_year"]):
            seen.add((parts["school_year"], parts["term"]))
    order = {"fall": 0, "winter": 1, "spring": 2}
    return [{"school_year": y, "term": t} for y, t in sorted(seen, key=lambda p: (p[0], order.get(p[1], 9), p[1]))]


# -- warehouse ---------------------------------------------------------------------------------

def dbt_build(settings: Settings, *select: str) -> dict:
    """``dbt build`` (all models, or ``--select``) under the warehouse lock."""
    from leap.warehouse import dbt

    args = ["build", *(["--select", *select] if select else [])]
    dbt(settings, *args, quiet=True)
    return {"dbt": " ".join(args)}


def publish_marts(settings: Settings, report: str = "warehouse") -> dict:
    """Publish the marts for BI (Parquet + DuckDB snapshot, swapped atomically)."""
    from leap.warehouse import publish

    pub = publish(settings)
    out = {"duckdb": str(pub.duckdb_file), "parquet_dir": str(pub.parquet_dir), "tables": pub.tables}
    write_report(settings, report, out)
    return out


# -- scoring -----------------------------------------------------------------------------------

def scoring_jobs():
    """The scoring jobs module, or :class:`ScoringUnavailable` when it is not installed."""
    try:
        import scoring_jobs.jobs as jobs
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("scoring_jobs"):
            raise ScoringUnavailable("scoring jobs are not installed (scoring_jobs.jobs)",
                                     hint="scoring, growth and their marts are skipped") from None
        raise
    return jobs


def _jobs(settings: Settings):
    jobs = scoring_jobs()
    if hasattr(jobs, "ensure_scoring_tables"):
        jobs.ensure_scoring_tables(settings)
    return jobs


def calibrate(settings: Settings, school_year: str, term: str, model: str = "pcm") -> dict:
    """Reference calibration of every scaled component on one administration (a new, versioned
    item bank; earlier scores keep the calibration id they were made with)."""
    out = jsonable(_jobs(settings).calibrate_reference(settings, school_year, term, model=model))
    write_report(settings, f"calibration-{school_year}-{term}", out)
    return out


def score(settings: Settings, school_year: str, term: str, calibration_id: str | None = None) -> dict:
    """Score every respondent of one term against the anchored item bank (rewrites the partition)."""
    out = jsonable(_jobs(settings).score_term(settings, school_year, term, calibration_id=calibration_id or None))
    write_report(settings, f"scores-{school_year}-{term}", out)
    return out


def growth(settings: Settings, school_year: str) -> dict:
    """Fall-to-spring growth of every school of a school year (rewrites the school year)."""
    out = jsonable(_jobs(settings).growth(settings, school_year))
    write_report(settings, f"growth-{school_year}", out)
    return out


def growth_years(settings: Settings, school_year: str | None = None) -> list[str]:
    """School years with both a fall and a spring administration validated (growth needs both)."""
    terms: dict[str, set[str]] = {}
    for p in validated_partitions(settings, school_year):
        terms.setdefault(p["school_year"], set()).add(p["term"])
    return sorted(y for y, t in terms.items() if {"fall", "spring"} <= t)
