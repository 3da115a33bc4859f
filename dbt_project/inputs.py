"""Optional inputs a program supplies beside the survey stream, loaded into the warehouse's ``inputs``
schema before every dbt build (dbt reads them as a source).

``$LEAP_DATA_DIR/inputs/enrolment.csv`` (:attr:`leap.layout.Layout.enrolment`): the expected
respondents of each school, one row per school x school year x term x instrument::

    school_id,school_year,term,instrument,expected_respondents
    SCH-0001,2024-25,fall,teacher,14

``leap enrolment load FILE`` checks a file and installs it there. Without the file the table is empty
and the reports say that no response rate is known.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from leap import instrument
from leap.config import Settings
from leap.errors import LeapError
from leap.fsutil import write_atomic
from leap.locks import warehouse_lock

ENROLMENT_COLUMNS = ("school_id", "school_year", "term", "instrument", "expected_respondents")
_SCHOOL = re.compile(r"[A-Za-z0-9_-]{1,64}")
_YEAR = re.compile(r"[0-9]{4}-[0-9]{2}")


def read_enrolment(path: Path) -> list[tuple[str, str, str, str, int]]:
    """The rows of an enrolment file; LeapError naming the line and the field for anything wrong."""
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            if tuple(reader.fieldnames or ()) != ENROLMENT_COLUMNS:
                raise LeapError(f"{path}: the header must be {','.join(ENROLMENT_COLUMNS)}, "
                                f"got {','.join(reader.fieldnames or [])}", hint="see docs/reports.md")
            rows = [_row(path, reader.line_num, r) for r in reader]
    except OSError as exc:
        raise LeapError(f"cannot read {path}: {exc.strerror or exc}") from None
    seen: set[tuple] = set()
    for r in rows:
        if r[:4] in seen:
            raise LeapError(f"{path}: {' / '.join(r[:4])} is given twice", hint="one row per school x term x instrument")
        seen.add(r[:4])
    return rows


def _row(path: Path, line: int, r: dict) -> tuple[str, str, str, str, int]:
    def bad(field: str, why: str) -> LeapError:
        return LeapError(f"{path}, line {line}: {field} {r.get(field)!r} {why}", hint="fix the row and load again")

    if not _SCHOOL.fullmatch(r["school_id"] or ""):
        raise bad("school_id", "is not a school id")
    if not _YEAR.fullmatch(r["school_year"] or ""):
        raise bad("school_year", "is not YYYY-YY")
    if r["term"] not in instrument.terms():
        raise bad("term", f"is not one of {instrument.terms()}")
    if r["instrument"] not in instrument.load_catalog().names:
        raise bad("instrument", f"is not one of {instrument.load_catalog().names}")
    try:
        expected = int(r["expected_respondents"])
    except (TypeError, ValueError):
        raise bad("expected_respondents", "is not a whole number") from None
    if expected < 1:
        raise bad("expected_respondents", "must be at least 1")
    return r["school_id"], r["school_year"], r["term"], r["instrument"], expected


def install_enrolment(settings: Settings, source: Path) -> int:
    """Check ``source`` and copy it to the layout's enrolment file (atomically); the row count."""
    rows = read_enrolment(source)
    write_atomic(settings.layout.enrolment, source.read_bytes())
    return len(rows)


def load_inputs(settings: Settings) -> None:
    """(Re)create ``inputs.expected_respondents`` in the warehouse from the enrolment file, or empty."""

    path = settings.layout.enrolment
    if path.exists():
        read_enrolment(path)  # checked again: the file may have been put there by hand
    settings.layout.warehouse.parent.mkdir(parents=True, exist_ok=True)
    with warehouse_lock(settings):
        con = settings.duckdb(settings.layout.warehouse)
        try:
            _replace_table(con, path if path.exists() else None)
        finally:
            con.close()


def _replace_table(con, path: Path | None) -> None:
    con.execute("create schema if not exists inputs")
    con.execute("create or replace table inputs.expected_respondents (school_id varchar not null, "
                "school_year varchar not null, term varchar not null, instrument varchar not null, "
                "expected_respondents integer not null)")
    if path is not None:
        con.execute("insert into inputs.expected_respondents select * from read_csv(?, header = true, "
                    "columns = {'school_id': 'varchar', 'school_year': 'varchar', 'term': 'varchar', "
                    "'instrument': 'varchar', 'expected_respondents': 'integer'})", [str(path)])
