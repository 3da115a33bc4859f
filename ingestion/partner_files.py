"""Partner bulk files (a production way in): JSONL or a wide CSV, read as v1 events.

CSV format (wide, one row per submission, UTF-8 with a header row):
``submission_id, instrument, instrument_version, school_id, respondent_id, school_year, term,
submitted_at, grade_band, sample, region, urbanicity, weight, duration_seconds, grade, gender, race_ethnicity,
parent_education, classroom_ids`` then one column per item id of every instrument (catalog order).
``classroom_ids`` holds the section ids separated by ``;`` (optional: files without the column still
import). An empty cell means the field is absent; for an item of the row's instrument version an empty cell means
*skipped* (null), while an item column missing from the file leaves the item out. The demographic
columns become the ``demographics`` object when any is filled. Cells that do not parse (e.g.
``"often"`` as a category) are passed on as strings, so the validator rejects the row with
``schema_violation`` rather than the converter guessing.

JSONL: one submission per line, bytes passed on as they are. Key = school id, or None when it
cannot be read.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import orjson

from leap.errors import LeapError
from leap.instrument import Catalog, load_catalog

CSV_BASE_COLUMNS = ["submission_id", "instrument", "instrument_version", "school_id", "respondent_id",
                    "school_year", "term", "submitted_at", "grade_band", "sample", "region", "urbanicity",
                    "weight", "duration_seconds"]
DEMOGRAPHIC_COLUMNS = ["grade", "gender", "race_ethnicity", "parent_education"]
CLASSROOM_COLUMN = "classroom_ids"
CLASSROOM_SEPARATOR = ";"  # not in the id pattern, so a list of valid ids splits back unchanged

# The CSV columns a submission cannot do without (the v1 schema's required fields; the items are
# required per instrument by the validator, row by row).
CSV_REQUIRED_COLUMNS = ["submission_id", "instrument", "instrument_version", "school_id", "respondent_id",
                        "school_year", "term", "submitted_at", "grade_band", "sample"]
OTHER_DELIMITERS = (";", "\t", "|")


def csv_columns(catalog: Catalog | None = None) -> list[str]:
    """Header of a partner CSV: event fields, demographics, then every item id of every instrument."""
    catalog = catalog or load_catalog()
    items: dict[str, None] = {}
    for name in catalog.names:
        items.update(dict.fromkeys(catalog.item_columns(name)))
    return CSV_BASE_COLUMNS + DEMOGRAPHIC_COLUMNS + [CLASSROOM_COLUMN] + list(items)


def event_to_csv_row(event: dict) -> dict[str, str]:
    """One v1 event as a CSV row (missing and null → empty cell)."""
    row = {k: _cell(event.get(k)) for k in CSV_BASE_COLUMNS}
    row.update({k: _cell(v) for k, v in (event.get("demographics") or {}).items()})
    classrooms = event.get(CLASSROOM_COLUMN)
    row[CLASSROOM_COLUMN] = CLASSROOM_SEPARATOR.join(map(str, classrooms)) if classrooms else ""
    row.update({k: _cell(v) for k, v in event["responses"].items()})
    return row


def _cell(value) -> str:
    return "" if value is None else repr(value) if isinstance(value, float) else str(value)


def write_partner_csv(events: Iterable[dict], path: str | Path, catalog: Catalog | None = None) -> int:
    """Write events as a wide partner CSV (format in the module docstring); returns the row count."""
    columns = csv_columns(catalog)
    n = 0
    try:
        with Path(path).open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=columns, extrasaction="raise")
            writer.writeheader()
            for event in events:
                writer.writerow(event_to_csv_row(event))
                n += 1
    except OSError as exc:
        raise LeapError(f"cannot write {path}: {exc.strerror or exc}") from None
    return n


def csv_row_to_event(row: Mapping[str, str], catalog: Catalog | None = None) -> dict:
    """A partner CSV row as a v1 event (see the module docstring for the rules)."""
    catalog = catalog or load_catalog()
    event: dict = {k: row[k] for k in CSV_BASE_COLUMNS if row.get(k)}
    for k in ("weight", "duration_seconds"):
        if k in event:
            event[k] = _number(event[k], float)
    demo = {k: row.get(k) or None for k in DEMOGRAPHIC_COLUMNS}
    if any(v is not None for v in demo.values()):
        demo["grade"] = _number(demo["grade"], int) if demo["grade"] is not None else None
        event["demographics"] = demo
    if row.get(CLASSROOM_COLUMN):
        # Pieces are passed on as they are (an empty one from "a;;b" too): the validator judges them.
        event[CLASSROOM_COLUMN] = [c.strip() for c in row[CLASSROOM_COLUMN].split(CLASSROOM_SEPARATOR)]
    ins = catalog.get(row.get("instrument"), row.get("instrument_version"))
    own = set(ins.item_ids) if ins else set()
    skip = {*CSV_BASE_COLUMNS, *DEMOGRAPHIC_COLUMNS, CLASSROOM_COLUMN}
    event["responses"] = {k: (_number(v, int) if v else None) for k, v in row.items()
                          if k not in skip and k is not None and (v or k in own)}
    return event


def _number(text: str, kind: type):
    """Parse a number; leave the text as it is when it is not one (the validator will say so)."""
    try:
        return kind(text.strip())
    except ValueError:
        return text


def read_partner_file(path: str | Path, fmt: str | None = None,
                      catalog: Catalog | None = None) -> Iterator[tuple[bytes | None, bytes]]:
    """Yield ``(key, value)`` records of a partner bulk file: JSONL (one submission per line, bytes as
    they are) or CSV (rows converted to v1 events). Key = school id, or None when it cannot be read."""
    path = Path(path)
    fmt = fmt or ("csv" if path.suffix.lower() == ".csv" else "jsonl")
    if fmt not in ("jsonl", "csv"):
        raise LeapError(f"unknown partner file format {fmt!r}", hint="use --format jsonl or csv")
    try:
        fh = path.open("rb")
    except OSError as exc:
        raise LeapError(f"cannot read {path}: {exc.strerror or exc}", hint="check the path") from None
    with fh:
        if fmt == "jsonl":
            yield from _jsonl_records(fh)
        else:
            catalog = catalog or load_catalog()
            text = io.TextIOWrapper(fh, encoding="utf-8-sig", newline="")
            reader = csv.DictReader(text)
            check_csv_header(reader.fieldnames or [], catalog)
            for row in reader:
                event = csv_row_to_event(row, catalog)
                school = event.get("school_id")
                yield (school.encode() if isinstance(school, str) else None), orjson.dumps(event)


def check_csv_header(header: list[str], catalog: Catalog | None = None) -> None:
    """Refuse a partner CSV whose header cannot be read as the format: another delimiter than ``,``,
    a required column missing, or a column the format does not know (a renamed header would otherwise
    turn every row into a dead letter, or silently drop an item). Names the columns concerned."""
    names = [h.strip() for h in header]
    if len(names) == 1:
        used = [d for d in OTHER_DELIMITERS if d in names[0]]
        if used:
            shown = "tab" if used[0] == "\t" else repr(used[0])
            raise LeapError(f"the CSV header is delimited by {shown}, not ','",
                            hint="save the file as comma-separated values (UTF-8), or convert it: "
                                 "the format is in docs/ingestion.md#partner-files")
    missing = [c for c in CSV_REQUIRED_COLUMNS if c not in names]
    unknown = [c for c in names if c not in set(csv_columns(catalog))]
    if missing or unknown:
        parts = ([f"missing required column(s): {', '.join(missing)}"] if missing else []) + \
                ([f"unknown column(s): {', '.join(unknown)}"] if unknown else [])
        raise LeapError("the partner CSV header does not match the format: " + "; ".join(parts),
                        hint="rename the columns to the format's names (listed in docs/ingestion.md#partner-files), "
                             "then produce the file again")


def _jsonl_records(fh) -> Iterator[tuple[bytes | None, bytes]]:
    for line in fh:
        value = line.rstrip(b"\r\n")
        if not value.strip():
            continue
        try:
            school = orjson.loads(value).get("school_id")
        except (orjson.JSONDecodeError, AttributeError):
            school = None
        yield (school.encode() if isinstance(school, str) else None), value


