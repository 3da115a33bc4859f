"""The work of every DAG task, as plain functions of :class:`~leap.config.Settings`.

Each function runs without Airflow (the DAG files and :mod:`leap.orchestration.flows` only call them),
returns a small JSON-safe dict (what Airflow keeps as the task's XCom) and is idempotent for its
partition: draining an empty topic lands nothing, validation handles each raw file once, dbt rebuilds
the same marts from the same validated files, scoring rewrites its (school year, term) partition and
an export of unchanged marts rewrites nothing.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from leap.config import Settings
from leap.errors import LeapError
from leap.fsutil import write_atomic
from leap.instrument import term_order, terms
from leap.orchestration import freshness

log = logging.getLogger(__name__)

GROWTH_MODELS = ("fct_school_growth",)  # the dbt models that compute growth from the term scores
# What new term scores change: everything downstream of the scoring tables (score staging and marts,
# growth, the school marts on scores), not the responses and item marts the warehouse build made.
SCORES_SELECTION = ("source:scoring+",)
DRAIN_RECORDS_PER_PROCESS = 200_000  # a drain process per this many records waiting (see drain_processes)


def jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def write_report(settings: Settings, name: str, payload: dict) -> None:
    """Keep the last result of a task as JSON under ``orchestration/reports/``."""
    write_atomic(settings.layout.task_reports / f"{name}.json",
                 json.dumps(payload, indent=2, default=str).encode())


# -- ingestion ---------------------------------------------------------------------------------

def drain(settings: Settings, processes: int | None = None) -> dict:
    """Bounded drain of the submissions topic into the raw lake (for deployments without the
    ingestion service), split over ``processes`` standalone drains (default: :func:`drain_processes`).
    Re-running on a drained topic lands nothing."""
    from ingestion.consumer import run_ingestion, run_parallel_drain

    processes = processes or drain_processes(settings)
    if processes > 1:
        stats = run_parallel_drain(settings, processes, progress=False)
    else:
        stats = run_ingestion(settings, "bounded", workers=0, progress=False, standalone=True)
    out = {"landed": stats.landed, "dead_lettered": stats.rejected, "duplicates": stats.duplicates,
           "files": stats.files}
    write_report(settings, "ingestion", out)
    return out


def drain_processes(settings: Settings) -> int:
    """Drains for what the topic holds: one per DRAIN_RECORDS_PER_PROCESS records waiting, up to
    ``LEAP_WORKERS`` (the cores). A drain's per-record work is Python, a core each; a drain process
    costs ~1.5 s to start (~60,000 records' work), so a small backlog is drained in this process."""
    from ingestion.status import collect_status
    from leap.parallel import worker_count

    waiting = sum(p.lag or 0 for p in collect_status(settings).partitions)
    return worker_count(max(1, waiting // DRAIN_RECORDS_PER_PROCESS))


# -- validation --------------------------------------------------------------------------------

def validate(settings: Settings, revalidate: bool = False) -> dict:
    """Validate every raw file not validated yet: promote the passing ones, quarantine the others.

    A quarantined file is reported, not fatal: it never reaches the validated zone, so everything
    downstream (dbt, scoring, exports) runs on what was promoted only.
    """
    from expectations.runner import run_validation

    report = run_validation(settings, revalidate=revalidate)
    out = {"run_id": report.run_id,
           "validated_files": len(report.validated), "validated_rows": sum(r for _, r in report.validated),
           "partitions": sorted({rel.rsplit("/", 1)[0] for rel, _ in report.validated}),
           "quarantined": [{"file": rel, "rows": rows, "checks": list(checks)}
                           for rel, rows, checks in report.quarantined],
           "quarantined_rows": sum(r for _, r, _ in report.quarantined),
           "skipped": report.skipped}
    log.info("validated %d file(s): %d row(s) promoted, %d file(s) quarantined (%d rows)", out["validated_files"],
             out["validated_rows"], len(out["quarantined"]), out["quarantined_rows"])
    write_report(settings, "validation", out)
    return out


def report_quarantine(settings: Settings, result: dict) -> int:
    """Log every quarantined file of a validation run with its failed checks; return how many."""
    for q in result.get("quarantined", []):
        log.warning("QUARANTINED %s (%s rows): failed %s -- see %s.validation.json under %s", q["file"], q["rows"],
                    ", ".join(q["checks"]), q["file"], settings.layout.quarantine)
    return len(result.get("quarantined", []))


def validated_partitions(settings: Settings, school_year: str | None = None) -> list[dict[str, str]]:
    """The (school_year, term) partitions with promoted files, in order (fall before spring)."""
    root = settings.layout.validated
    seen = set()
    for path in root.glob("instrument=*/school_year=*/term=*/*.parquet"):
        parts = dict(p.split("=", 1) for p in path.relative_to(root).parts[:-1])
        if school_year in (None, "", parts["school_year"]):
            seen.add((parts["school_year"], parts["term"]))
    return [{"school_year": y, "term": t} for y, t in sorted(seen, key=lambda p: (p[0], term_order(p[1]), p[1]))]


# -- warehouse ---------------------------------------------------------------------------------

def run_dbt(settings: Settings, *select: str, exclude: tuple[str, ...] = (), partitions: list[str] | None = None,
            full_refresh: bool = False) -> dict:
    """``dbt build`` (all models, or ``--select``; less ``--exclude``) under the warehouse lock;
    ``partitions``: rebuild the incremental models for those partitions only (``<school year>/<term>``,
    var ``partitions``); ``full_refresh``: recreate them from scratch.

    The scoring tables' schema files are written first when missing: dbt reads them as a source.
    Without dbt's unit tests (dbt's own advice for production runs): they check a model's SQL on
    hand-written rows, not the data, so they answer the same on every build, and the pipeline's builds
    should fail for the data only. The test suite runs every one (``tests/e2e/test_warehouse_e2e.py``),
    and so does ``leap warehouse build``. (Not for speed: their 33 runs in a million submissions' chain
    were light queries beside the heavy models, and leaving them out changed no step's time measurably.)
    """
    import json

    from dbt_project.inputs import load_inputs
    from dbt_project.runner import dbt
    from scoring_jobs.tables import ensure_scoring_tables

    ensure_scoring_tables(settings)
    load_inputs(settings)  # the optional enrolment file (dbt reads inputs.expected_respondents)
    args = ["build", *(["--select", *select] if select else []), *(["--exclude", *exclude] if exclude else []),
            "--exclude-resource-type", "unit_test",
            *(["--full-refresh"] if full_refresh else []),
            *(["--vars", json.dumps({"partitions": partitions})] if partitions is not None else [])]
    dbt(settings, *args, quiet=True)
    return {"dbt": " ".join(args)}


def dbt_build(settings: Settings, force: bool = False) -> dict:
    """The warehouse (``dbt build``) but what the scores feed, unless nothing it reads changed since it
    was last built (:mod:`leap.orchestration.freshness`). The models incremental by school year x term
    are rebuilt for the partitions whose validated files changed (all of them, from scratch, when the
    code, inputs or settings changed, or with ``force``).

    Left out: ``source:scoring+`` (SCORES_SELECTION), the score and growth marts. A new warehouse makes
    them stale (``freshness.scores`` covers the warehouse), so the scoring DAG, which runs after every
    warehouse build (its schedule is the warehouse asset), scores the changed terms again and builds those
    marts (``build_scores``) whether or not they were built here: built here too, they were built twice,
    on the scores of the warehouse before (63 of the build's 173 nodes; at a million submissions 3.4 s of
    dbt's threads on a first build, whose scores are empty, and the whole score marts again on every
    later one). ``leap warehouse build`` still builds every model."""
    def run() -> dict:
        plan = None if force else freshness.partition_plan(settings)
        out = run_dbt(settings, exclude=SCORES_SELECTION, partitions=plan, full_refresh=plan is None)
        freshness.record_partitions(settings)
        return {**out, "partitions": "all" if plan is None else plan}

    return freshness.unless_current(settings, {"warehouse": lambda con: freshness.warehouse(settings)}, run, force)


def publish_marts(settings: Settings, report: str = "warehouse", force: bool = False) -> dict:
    """Publish the marts for BI (Parquet + DuckDB snapshot, swapped atomically), unless the marts were
    not rebuilt since they were last published."""
    from dbt_project.publish import publish

    def run() -> dict:
        pub = publish(settings)
        out = {"duckdb": str(pub.duckdb_file), "parquet_dir": str(pub.parquet_dir), "tables": pub.tables}
        write_report(settings, report, out)
        return out

    force = force or not settings.layout.published_duckdb.exists()
    return freshness.unless_current(settings, {"publish": freshness.publish}, run, force)


# -- scoring -----------------------------------------------------------------------------------

def terms_to_score(settings: Settings, school_year: str | None = None, term: str | None = None) -> list[dict]:
    """The validated (school year, term) partitions to score; empty ``school_year``/``term``: all."""
    return [t for t in validated_partitions(settings, school_year) if term in (None, "", t["term"])]


def check_term(term: str) -> None:
    if term not in terms():
        raise LeapError(f"unknown term {term!r}", hint=f"one of {', '.join(terms())} (terms.csv)")


def calibrate(settings: Settings, school_year: str, term: str, model: str = "pcm", force: bool = False) -> dict:
    """Reference calibration of every scaled component on one administration (a new, versioned
    item bank; earlier scores keep the calibration id they were made with)."""
    from scoring_jobs.item_bank import calibrate_reference

    check_term(term)

    def run() -> dict:
        out = jsonable(calibrate_reference(settings, school_year, term, model=model))
        for f in out["failed"]:
            log.error("CALIBRATION FAILED for %s %s on %s %s: %s (the other scales are calibrated)",
                      f["instrument"], f["component"], school_year, term, f["reason"])
        write_report(settings, f"calibration-{school_year}-{term}", out)
        return out

    step = f"calibration:{school_year}:{term}:{model}"
    fp = lambda con: freshness.calibration(settings, school_year, term, model)  # noqa: E731
    return freshness.unless_current(settings, {step: fp}, run, force)


def item_dif(settings: Settings, calibrated: dict, force: bool = False) -> dict:
    """DIF of the calibration's items by respondent group (scoring.item_dif, scoring.scale_dif), once per
    calibration id (``force``: again)."""
    from scoring_jobs.item_dif import analyse_calibration

    cal_id = calibrated.get("calibration_id")
    if not cal_id:
        raise LeapError("the calibration task returned no calibration id", hint="see the calibrate task's log")
    out = jsonable(analyse_calibration(settings, cal_id, force=force))
    log.info("DIF of %s: %s", cal_id, out.get("skipped") or f"{out['item_rows']} item rows, {out['flagged']} flagged")
    write_report(settings, f"dif-{cal_id}", out)
    return out


def score(settings: Settings, school_year: str, term: str, calibration_id: str | None = None,
          force: bool = False) -> dict:
    """Score every respondent of one term against the anchored item bank (rewrites the partition)."""
    from scoring_jobs.term_scores import score_term

    check_term(term)

    def run() -> dict:
        out = jsonable(score_term(settings, school_year, term, calibration_id=calibration_id or None))
        write_report(settings, f"scores-{school_year}-{term}", out)
        return out

    step = f"score:{school_year}:{term}"
    fp = lambda con: freshness.score_term(settings, school_year, term, calibration_id)  # noqa: E731
    return freshness.unless_current(settings, {step: fp}, run, force)


def build_scores(settings: Settings, force: bool = False) -> dict:
    """The dbt models (and tests) downstream of the scoring tables, after new term scores: a targeted
    build instead of the whole warehouse again; nothing when the scores did not change. The growth models
    are downstream of the scores, so this build makes them current too and records their stamp: the
    growth DAG that follows has nothing to rebuild (it built ``fct_school_growth`` a second time, 12 s
    of a million submissions' chain)."""
    years = growth_years(settings)
    return freshness.unless_current(settings, {"scores": lambda con: freshness.scores(settings),
                                               "growth": lambda con: freshness.growth(settings, years)},
                                    lambda: run_dbt(settings, *SCORES_SELECTION), force)


def growth_years(settings: Settings, school_year: str | None = None) -> list[str]:
    """School years with both a fall and a spring administration validated (growth needs both)."""
    seen: dict[str, set[str]] = {}
    for p in validated_partitions(settings, school_year):
        seen.setdefault(p["school_year"], set()).add(p["term"])
    first, last = terms()[0], terms()[-1]
    return sorted(y for y, t in seen.items() if {first, last} <= t)


def build_growth(settings: Settings, school_years: list[str], force: bool = False) -> dict:
    """Fall-to-spring school growth: the dbt growth models (and their tests) on the current scores.

    Growth is defined once, in dbt (``marts.fct_school_growth``); the models recompute every school
    year with both terms, so one build covers ``school_years``.
    """
    if not school_years:
        return {"school_years": [], "dbt": None}
    built = freshness.unless_current(settings, {"growth": lambda con: freshness.growth(settings, school_years)},
                                     lambda: run_dbt(settings, *GROWTH_MODELS), force)
    return {"school_years": list(school_years), **built}


# -- school reports ----------------------------------------------------------------------------

def report_terms(settings: Settings, school_year: str | None = None, term: str | None = None) -> list[dict]:
    """(school year, term) pairs with school results in the warehouse, to render (filtered)."""
    from reports.data import available_terms

    return [{"school_year": y, "term": t} for y, t in available_terms(settings)
            if (school_year is None or y == school_year) and (term is None or t == term)]


def render_reports(settings: Settings, target: dict, pdf: bool = True) -> dict:
    """The school, network, LEAP and national reports of one school year and term, with a manifest."""
    from reports.build import build_reports

    (built,) = build_reports(settings, school_year=target["school_year"], term=target["term"], pdf=pdf)
    return {"school_year": built.school_year, "term": built.term, "schools": len(built.schools),
            "pdfs": built.n_pdfs, "seconds": round(built.seconds, 1), "index": str(built.index),
            "manifest": str(built.manifest)}


# -- partner exports ---------------------------------------------------------------------------

def export_targets(settings: Settings, school_year: str | None, partners: list[str] | None) -> list[dict]:
    """(partner, school year) pairs to export: every partner network (samples.csv) × validated year."""
    from leap.instrument import partner_samples

    years = sorted({t["school_year"] for t in validated_partitions(settings, school_year)})
    return [{"partner": partner, "school_year": y} for partner in (partners or partner_samples()) for y in years]


def export_partner(settings: Settings, target: dict) -> dict:
    from leap.orchestration.exports import partner_export

    m = partner_export(settings, target["school_year"], target["partner"])
    return {"partner": m["partner"], "school_year": m["school_year"], "dir": m["dir"], "rows": m["rows"]}
