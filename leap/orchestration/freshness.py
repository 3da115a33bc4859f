"""What each warehouse step of the chain reads, as fingerprints (:mod:`leap.stamps`), and running a step
only when they changed.

The chain and its inputs (each fingerprint includes the one above it, so a change flows down):

- ``warehouse`` (the dbt build): the validated lake, its validation results, the program's inputs
  (enrolment), the code, and the settings dbt reads (minimum n, response rate). Within it, each
  partition (school year × term) has its own stamp, so that a build rebuilds the incremental models for
  the partitions whose files changed only (:func:`partition_plan`); a change of code, inputs or settings
  (``warehouse-base``) rebuilds every partition;
- ``calibration:<year>:<term>:<model>``: the term's rows (:func:`term_rows`: the warehouse's base and that
  partition's files; a calibration of the same data is the same), so a new spring does not calibrate
  fall again;
- ``score:<year>:<term>``: the term's rows, the item banks (the files of the scoring tables
  ``item_bank_*`` and ``reporting_scales``), the calibration asked for;
- ``scores`` (dbt on what the scores feed): the warehouse and the files of every scoring table (item
  banks, scores, drift, DIF: dbt's ``scoring`` source), so a manual ``leap scoring score`` invalidates
  it as a scheduled one does;
- ``growth``: the scores' fingerprint and the school years with growth;
- ``publish``: the stamps of the three builds.

The chain's warehouse build leaves the score and growth marts to ``scores`` (orchestration.tasks.dbt_build).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from leap import stamps
from leap.config import Settings
from leap.instrument import instrument_dir

log = logging.getLogger(__name__)


def connect(settings: Settings):
    """The warehouse, where the stamps live (:mod:`leap.stamps`)."""
    settings.layout.warehouse.parent.mkdir(parents=True, exist_ok=True)
    return settings.duckdb(settings.layout.warehouse)


def warehouse(settings: Settings) -> str:
    return stamps.fingerprint(
        "warehouse", warehouse_base(settings), sorted(partitions(settings).items()),
        stamps.files_fingerprint(settings.layout.validation_results, "*.parquet"))  # the glob dbt reads them with


def warehouse_base(settings: Settings) -> str:
    """What every partition of the warehouse is built with: the program's inputs (enrolment), the code,
    the instrument definition and the settings dbt reads. When it changes, every partition is rebuilt."""
    return stamps.fingerprint(
        "warehouse-base", stamps.files_fingerprint(settings.layout.inputs, "*"), stamps.code_fingerprint(),
        stamps.files_fingerprint(instrument_dir(), "*.csv"),  # LEAP_INSTRUMENT_DIR may point outside the code
        settings.min_cell_n, settings.min_classroom_n, settings.min_response_rate)


def partitions(settings: Settings) -> dict[str, str]:
    """{"<school year>/<term>": fingerprint of its validated files, every instrument}: the partitions the
    incremental models (dbt_project/macros/partitions.sql) are rebuilt by."""
    root = settings.layout.validated
    keys = sorted({(d.parent.name.partition("=")[2], d.name.partition("=")[2])
                   for d in root.glob("instrument=*/school_year=*/term=*") if d.is_dir()})
    return {f"{year}/{term}": stamps.files_fingerprint(root, f"instrument=*/school_year={year}/term={term}/*.parquet")
            for year, term in keys}


PARTITION_STAMP = "partition:"


def partition_plan(settings: Settings) -> list[str] | None:
    """The partitions a warehouse build must rebuild: those whose files changed since the last build, or
    None for every one, from scratch (the first build, a change of code, inputs or settings, or a
    partition that disappeared: a partition build can replace a partition, not notice one is gone)."""
    from leap.locks import warehouse_lock

    with warehouse_lock(settings):
        con = connect(settings)
        try:
            if stamps.stamp(con, "warehouse-base") != warehouse_base(settings):
                return None
            built = stamps.stamps_under(con, PARTITION_STAMP)
        finally:
            con.close()
    current = partitions(settings)
    if set(built) - set(current):
        return None
    return sorted(p for p, fp in current.items() if built.get(p) != fp)


def record_partitions(settings: Settings) -> None:
    """After a successful build: every partition and the base are current."""
    from leap.locks import warehouse_lock

    with warehouse_lock(settings):
        con = connect(settings)
        try:
            stamps.forget(con, PARTITION_STAMP)
            for part, fp in partitions(settings).items():
                stamps.record(con, PARTITION_STAMP + part, fp)
            stamps.record(con, "warehouse-base", warehouse_base(settings))
        finally:
            con.close()


ITEM_BANK_TABLES = ("item_bank_calibrations", "item_bank_thresholds", "reporting_scales")


def term_rows(settings: Settings, school_year: str, term: str) -> str:
    """What a term's rows in the warehouse are built from: the base (code, inputs, settings) and the term's
    validated files. The warehouse's models keep a term's rows a function of those alone (the incremental
    models rebuild a partition from its own files and equal a build from scratch:
    tests/orchestration/test_partitions.py), so a step that reads one term's rows (a calibration, a term's
    scoring) is current while this is, whatever other terms arrived meanwhile."""
    return stamps.fingerprint("term", warehouse_base(settings), school_year, term,
                              partitions(settings).get(f"{school_year}/{term}"))


def score_term(settings: Settings, school_year: str, term: str, calibration_id: str | None) -> str:
    from scoring_jobs import tables

    return stamps.fingerprint("score", term_rows(settings, school_year, term),
                              tables.fingerprint(settings, *ITEM_BANK_TABLES), calibration_id or "latest")


def scores(settings: Settings) -> str:
    from scoring_jobs import tables

    return stamps.fingerprint("scores", warehouse(settings), tables.fingerprint(settings, *tables.TABLES))


def growth(settings: Settings, school_years: list[str]) -> str:
    return stamps.fingerprint("growth", scores(settings), sorted(school_years))


def calibration(settings: Settings, school_year: str, term: str, model: str) -> str:
    # Not the item banks' generation: a calibration that finds its item bank already stored renews nothing.
    return stamps.fingerprint("calibration", term_rows(settings, school_year, term), model)


def publish(con) -> str:
    return stamps.fingerprint("publish", *(stamps.stamp(con, s) for s in ("warehouse", "scores", "growth")))


def unless_current(settings: Settings, steps: dict[str, Callable], run: Callable[[], dict],
                   force: bool = False) -> dict:
    """Run ``run()`` unless every step in ``steps`` ({step: fingerprint(con)}) has its stamp equal to
    its fingerprint; then record them. Returns run's result, or, skipped, the result it returned when
    it last ran with ``"skipped": "up to date"`` added (the same XCom shape either way)."""
    from leap.locks import warehouse_lock

    with warehouse_lock(settings):
        con = connect(settings)
        try:
            fps = {step: fp(con) for step, fp in steps.items()}
            if not force and all(stamps.stamp(con, s) == fp for s, fp in fps.items()):
                log.info("%s: up to date, skipped", ", ".join(fps))
                return {**stamps.last_result(con, next(iter(fps))), "skipped": "up to date"}
        finally:
            con.close()
    out = run()
    with warehouse_lock(settings):
        con = connect(settings)
        try:
            for step, fp in fps.items():
                stamps.record(con, step, fp, out)
        finally:
            con.close()
    return out
