"""Submission event v1: the contract producer and consumer share, and its reference validator.

The contract is the JSON Schema ``ingestion/schemas/submission.v1.schema.json`` plus the instrument
definition (instrument, version, item ids, category ranges). :mod:`ingestion.fastpath` holds two
pre-checks that accept the plain events quickly and send everything else here.

:func:`check_submission` takes the raw bytes of a Kafka record and returns either a
normalized event or a rejection with a stable reason code (used as the dead-letter header):

================================  ======================================================
reason code                       meaning
================================  ======================================================
``invalid_json``                  the bytes are not UTF-8 JSON, or not a JSON object
``schema_violation``              the object breaks ``submission.v1.schema.json``
``unknown_instrument``            instrument / instrument_version not in the definition
``unknown_item``                  a response key is not an item of that instrument version
``category_out_of_range``         a response is outside the item's categories
``invalid_school_year``           ``school_year`` is not ``YYYY-YY`` with consecutive years
``invalid_timestamp``             ``submitted_at`` is not a valid RFC 3339 timestamp (no such
                                  date or time, a UTC offset beyond 23:59), or its year is
                                  outside :data:`SUBMITTED_AT_YEARS` (2000..2099)
================================  ======================================================

``submitted_at`` years: the schema's pattern allows any four digits, the contract only 2000..2099, the
year as written (local to its offset). Every survey of v1 was taken this century, and the raw lake
stores the instant in nanosecond precision on the way in (years 1677..2262): a year 1600 or 9999 can
never be stored, and with an offset of at most 23:59 every accepted instant lies between 1999-12-31 and
2100-01-01 UTC. The window a term's submissions must fall in is checked per batch by the validation
(``window.submitted_at``), not here.

Nesting: the schema allows three levels (the event, an object or list in it, a value); orjson refuses
JSON nested deeper than 1024 levels (``invalid_json``), and shallower nesting that is still far too deep
for the schema is a ``schema_violation``, whichever step of validation notices it (the compiled
validator's ``uniqueItems`` check recurses in Python, so such a list can exhaust the interpreter's
recursion limit before its items are checked).

The decode step (:mod:`ingestion.decode`) dead-letters, as a last line of defence, a record that no
check here refuses but that it cannot process (an unexpected error, or one the Arrow conversion
refuses) with ``schema_violation`` and a detail beginning ``unprocessable:``: that is a gap in this
contract to close, never a crash of the ingestion.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from functools import lru_cache
from pathlib import Path

import fastjsonschema
import orjson

from ingestion.fastpath import conforms
from leap.instrument import Catalog, load_catalog

SCHEMA_PATH = Path(__file__).parent / "schemas" / "submission.v1.schema.json"

REASONS = (
    "invalid_json",
    "schema_violation",
    "unknown_instrument",
    "unknown_item",
    "category_out_of_range",
    "invalid_school_year",
    "invalid_timestamp",
)

# The years a submitted_at may carry (as written); the fast paths (ingestion.fastpath) accept 20xx only.
SUBMITTED_AT_YEARS = (2000, 2099)
_TS_PARTS = re.compile(r"([0-9]{4})-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,9})?"
                       r"(?:Z|[+-]([0-9]{2}):([0-9]{2}))")


class Rejected(Exception):
    """A submission that cannot be stored; ``reason`` is one of :data:`REASONS`."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@lru_cache(maxsize=1)
def submission_schema() -> dict:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def _compiled_validator():
    return fastjsonschema.compile(submission_schema())


def check_submission(raw: bytes | str | dict, catalog: Catalog | None = None) -> dict:
    """Validate one submission; return the parsed event with ``submitted_at`` as datetime.

    Raises :class:`Rejected` with a reason code and a human-readable detail.
    """
    return check_submission_ex(raw, catalog)[0]


def check_submission_ex(raw: bytes | str | dict, catalog: Catalog | None = None) -> tuple[dict, bool]:
    """Like :func:`check_submission`; also says whether the event took the fast path.

    A fast-path event is plain: every item value an integer or null, nothing the schema
    merely tolerates (such as 3.0 for 3). Its original bytes can be parsed as they are.
    """
    if isinstance(raw, dict):
        event = raw
    else:
        try:
            event = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise Rejected("invalid_json", str(exc)[:200]) from None
        if not isinstance(event, dict):
            raise Rejected("invalid_json", f"expected a JSON object, got {type(event).__name__}")
    catalog = catalog or load_catalog()
    ins = catalog.get(event.get("instrument"), event.get("instrument_version")) if _hashable_ids(event) else None
    if ins is not None and conforms(event, ins):
        event["submitted_at"] = _parse_ts(event["submitted_at"])
        return event, True
    # The reference validator, compiled from the schema file, decides and explains.
    try:
        _compiled_validator()(event)
    except fastjsonschema.JsonSchemaValueException as exc:
        raise Rejected("schema_violation", exc.message[:300]) from None
    except RecursionError:  # uniqueItems compares nested lists recursively: far deeper than the schema allows
        raise Rejected("schema_violation", "a value is nested far deeper than the schema allows (3 levels)") from None
    _check_semantics(event, catalog)
    return event, False


def _hashable_ids(event: dict) -> bool:
    return type(event.get("instrument")) is str and type(event.get("instrument_version")) is str


def _parse_ts(value: str) -> datetime:
    """``submitted_at`` as an aware datetime; :class:`Rejected` (``invalid_timestamp``) unless it is an RFC 3339
    timestamp with a UTC offset of at most 23:59 and a year in :data:`SUBMITTED_AT_YEARS`."""
    m = _TS_PARTS.fullmatch(value)
    if m is None:  # the schema's pattern already says so; keep the guard for callers that skip it
        raise Rejected("invalid_timestamp", f"submitted_at {value[:64]!r} is not an RFC 3339 timestamp with an offset")
    year, off_h, off_m = m.groups()
    if off_h is not None and (int(off_h) > 23 or int(off_m) > 59):
        raise Rejected("invalid_timestamp",
                       f"submitted_at {value!r}: UTC offset {off_h}:{off_m} is not one (hours 00..23, minutes 00..59)")
    lo, hi = SUBMITTED_AT_YEARS
    if not lo <= int(year) <= hi:
        raise Rejected("invalid_timestamp", f"submitted_at {value!r}: year {year} is outside {lo}..{hi}")
    try:
        ts = datetime.fromisoformat(value)
    except ValueError as exc:
        raise Rejected("invalid_timestamp", f"submitted_at {value!r}: {exc}") from None
    if ts.tzinfo is None:  # the pattern requires an offset; keep the guard anyway
        raise Rejected("invalid_timestamp", "submitted_at has no UTC offset")
    return ts


def _check_semantics(event: dict, catalog: Catalog) -> None:
    ins = catalog.get(event["instrument"], event["instrument_version"])
    if ins is None:
        raise Rejected(
            "unknown_instrument", f"instrument {event['instrument']!r} version {event['instrument_version']!r}"
        )
    for item_id, value in event["responses"].items():
        item = ins.item(item_id)
        if item is None:
            raise Rejected("unknown_item", f"item {item_id!r} is not in {ins.name} {ins.version}")
        if value is not None and not (0 <= value <= item.max_category):
            raise Rejected(
                "category_out_of_range", f"item {item_id!r} = {value}, allowed 0..{item.max_category} or null"
            )
        if value is not None and value != int(value):
            raise Rejected("schema_violation", f"item {item_id!r} = {value} is not an integer")
    check_year(event["school_year"])
    event["submitted_at"] = _parse_ts(event["submitted_at"])


def check_year(year: str) -> None:
    if (int(year[:4]) + 1) % 100 != int(year[5:]):
        raise Rejected("invalid_school_year", f"school_year {year!r}: second year must follow the first")

