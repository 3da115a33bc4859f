"""Submission event v1: the one validator producer and consumer share, and pseudonymization.

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
``invalid_timestamp``             ``submitted_at`` is not a valid RFC 3339 timestamp
================================  ======================================================
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

import fastjsonschema
import msgspec
import orjson

from leap.errors import LeapError
from leap.instrument import Catalog, Instrument, load_catalog

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
    if ins is not None and _fast_conforms(event, ins):
        event["submitted_at"] = _parse_ts(event["submitted_at"])
        return event, True
    # The reference validator, compiled from the schema file, decides and explains.
    try:
        _compiled_validator()(event)
    except fastjsonschema.JsonSchemaValueException as exc:
        raise Rejected("schema_violation", exc.message[:300]) from None
    _check_semantics(event, catalog)
    return event, False


def _hashable_ids(event: dict) -> bool:
    return type(event.get("instrument")) is str and type(event.get("instrument_version")) is str


def _parse_ts(value: str) -> datetime:
    try:
        ts = datetime.fromisoformat(value)
    except ValueError as exc:
        raise Rejected("invalid_timestamp", str(exc)) from None
    if ts.tzinfo is None:  # the schema pattern requires an offset; keep the guard anyway
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
    _check_year(event["school_year"])
    event["submitted_at"] = _parse_ts(event["submitted_at"])


def _check_year(year: str) -> None:
    if (int(year[:4]) + 1) % 100 != int(year[5:]):
        raise Rejected("invalid_school_year", f"school_year {year!r}: second year must follow the first")


# --------------------------------------------------------------------------- fast path
#
# The compiled JSON Schema validator costs ~30 us per event, more than the Kafka client
# spends fetching it. _fast_conforms is a conservative pre-check written for schema v1:
# True only for events that the schema accepts and that pass every semantic check; anything
# unusual (floats for integers, extra keys, unknown items) returns False and goes to the
# reference validator, which decides and explains. tests/test_events.py checks that the two
# paths agree on generated and mutated events. The fast path is tied to the schema file's
# content: if the file changes, it switches itself off until it is reviewed.

_FAST_SCHEMA_SHA256 = "9796c49a3adcbfd754a65a4984f48a99749a5886e2652b45a5d5f9e72800d575"
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")
_VERSION = re.compile(r"[0-9]+\.[0-9]+")
_SCHOOL = re.compile(r"[A-Za-z0-9_-]{1,64}")
_YEAR = re.compile(r"[0-9]{4}-[0-9]{2}")
_TS = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})")
_REQUIRED = frozenset(
    ("submission_id", "instrument", "instrument_version", "school_id", "respondent_id", "school_year", "term",
     "submitted_at", "grade_band", "sample", "responses")
)
_OPTIONAL = frozenset(("region", "urbanicity", "weight", "demographics", "schema_version"))
_ALLOWED = _REQUIRED | _OPTIONAL
_TERMS = frozenset(("fall", "winter", "spring"))
_BANDS = frozenset(("elementary", "middle", "high"))
_SAMPLES = frozenset(("national", "nextgen", "leap_network"))
_REGIONS = frozenset(("northeast", "midwest", "south", "west", None))
_URBAN = frozenset(("city", "suburb", "town", "rural", None))
_DEMO_MAX = {"gender": 32, "race_ethnicity": 64, "parent_education": 64}
_FAST: bool | None = None


def fast_path_enabled() -> bool:
    global _FAST
    if _FAST is None:
        _FAST = hashlib.sha256(SCHEMA_PATH.read_bytes()).hexdigest() == _FAST_SCHEMA_SHA256
    return _FAST


def _fast_conforms(e: dict, ins: Instrument) -> bool:
    """True only when ``e`` is schema-valid and passes every semantic check against ``ins``."""
    if not fast_path_enabled():
        return False
    keys = e.keys()
    if not (_REQUIRED <= keys and keys <= _ALLOWED):
        return False
    if "schema_version" in e and not (e["schema_version"] == 1 and type(e["schema_version"]) is int):
        return False
    # The school context repeats across a school's submissions: check each distinct one once.
    ctx = (e["instrument"], e["instrument_version"], e["school_id"], e["school_year"], e["term"],
           e["grade_band"], e["sample"], e.get("region"), e.get("urbanicity"))
    try:
        if not _context_ok(ctx):
            return False
    except TypeError:  # an unhashable value (list, object) where a string belongs
        return False
    rid, sid, ts = e["respondent_id"], e["submission_id"], e["submitted_at"]
    if type(rid) is not str or not 1 <= len(rid) <= 128 or type(sid) is not str or type(ts) is not str:
        return False
    if _UUID.fullmatch(sid) is None or _TS.fullmatch(ts) is None:
        return False
    return _fast_optional(e) and _fast_responses(e["responses"], ins)


_CONTEXT_OK: dict[tuple, bool] = {}


def _context_ok(ctx: tuple) -> bool:
    """_context_conforms, remembered per distinct context (bounded); TypeError if ctx is unhashable."""
    ok = _CONTEXT_OK.get(ctx)
    if ok is None:
        ok = _context_conforms(ctx)
        if len(_CONTEXT_OK) < 200_000:
            _CONTEXT_OK[ctx] = ok
    return ok


def _context_conforms(ctx: tuple) -> bool:
    instrument, version, school, year, term, band, sample, region, urbanicity = ctx
    if not all(type(v) is str for v in ctx[:7]):
        return False
    return (
        _NAME.fullmatch(instrument) is not None
        and _VERSION.fullmatch(version) is not None
        and _SCHOOL.fullmatch(school) is not None
        and _YEAR.fullmatch(year) is not None
        and (int(year[:4]) + 1) % 100 == int(year[5:])
        and term in _TERMS
        and band in _BANDS
        and sample in _SAMPLES
        and region in _REGIONS
        and urbanicity in _URBAN
    )


def _fast_optional(e: dict) -> bool:
    w = e.get("weight")
    if w is not None and not (type(w) in (int, float) and w > 0):
        return False
    demo = e.get("demographics")
    if demo is None:
        return True
    if type(demo) is not dict:
        return False
    for k, v in demo.items():
        if k == "grade":
            if v is not None and (type(v) is not int or not 0 <= v <= 12):
                return False
        elif k not in _DEMO_MAX or (v is not None and (type(v) is not str or len(v) > _DEMO_MAX[k])):
            return False
    return True


_INT_OR_NONE = frozenset((int, type(None)))


def _fast_responses(responses, ins: Instrument) -> bool:
    # Known item ids all match the schema's propertyNames pattern (checked when the
    # catalog loads), so a subset test covers both the pattern and the unknown-item check.
    if type(responses) is not dict or not responses or not (responses.keys() <= ins.item_set):
        return False
    values = responses.values()
    # Types first (bool and float would pass the set test below: True == 1, 3.0 == 3).
    if not set(map(type, values)) <= _INT_OR_NONE:
        return False
    if ins.uniform_max is not None:
        return set(values) <= ins.allowed_values
    return all(v is None or 0 <= v <= ins.item(k).max_category for k, v in responses.items())


# --------------------------------------------------------------------------- fast path for raw bytes
#
# fast_check(raw, catalog) does the work of orjson.loads + _fast_conforms in one strict,
# typed C decode (msgspec) without building the event dict. Like _fast_conforms it may only
# say yes to events that check_submission_ex would accept on its fast path (plain=True);
# None sends the record to check_submission_ex, which decides and explains. What makes the
# two agree (tests/test_decode_fastpath.py checks them differentially):
#   * msgspec parses strict RFC 8259 JSON, like orjson: no comments, NaN, trailing commas or
#     trailing content, valid UTF-8 and surrogates only; duplicate keys: the last one wins;
#   * its types are strict: no bool for int, no float for int, no number for str; unknown
#     fields are an error (additionalProperties: false, in demographics and responses too);
#   * the constraints are those of _fast_conforms: the per-record patterns fully anchored,
#     the school context through the same cached _context_conforms, categories per item.


class _FastDemographics(msgspec.Struct, forbid_unknown_fields=True):
    grade: Annotated[int, msgspec.Meta(ge=0, le=12)] | None = None
    gender: Annotated[str, msgspec.Meta(max_length=32)] | None = None
    race_ethnicity: Annotated[str, msgspec.Meta(max_length=64)] | None = None
    parent_education: Annotated[str, msgspec.Meta(max_length=64)] | None = None


class _FastEvent(msgspec.Struct, forbid_unknown_fields=True):
    submission_id: Annotated[str, msgspec.Meta(pattern=r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                                                       r"[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z")]
    instrument: str
    instrument_version: str
    school_id: str
    respondent_id: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
    school_year: str
    term: str
    submitted_at: Annotated[str, msgspec.Meta(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}"
                                                      r"(\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})\Z")]
    grade_band: str
    sample: str
    responses: msgspec.Raw
    region: str | None = None
    urbanicity: str | None = None
    weight: Annotated[float, msgspec.Meta(gt=0)] | None = None
    demographics: _FastDemographics | None = None
    schema_version: Literal[1] | msgspec.UnsetType = msgspec.UNSET


_FAST_DECODER = msgspec.json.Decoder(_FastEvent)
_RESPONSE_DECODERS: dict[int, tuple[Catalog, dict]] = {}


def _response_decoders(catalog: Catalog) -> dict:
    """Per instrument version: a strict decoder of its responses object (known items only)."""
    hit = _RESPONSE_DECODERS.get(id(catalog))
    if hit is not None and hit[0] is catalog:
        return hit[1]
    decoders = {}
    for key, ins in catalog.instruments.items():
        fields = [(i.item_id, Annotated[int, msgspec.Meta(ge=0, le=i.max_category)] | None, msgspec.UNSET)
                  for i in ins.items]
        struct = msgspec.defstruct(f"_Responses_{len(decoders)}", fields, forbid_unknown_fields=True)
        decoders[key] = (msgspec.json.Decoder(struct), len(fields))
    _RESPONSE_DECODERS[id(catalog)] = (catalog, decoders)
    return decoders


def fast_check(raw: bytes, catalog: Catalog) -> _FastEvent | None:
    """The event when it certainly passes ``check_submission_ex`` with plain=True, else None."""
    if not fast_path_enabled():
        return None
    try:
        e = _FAST_DECODER.decode(raw)
    except (msgspec.DecodeError, ValueError, TypeError):  # ValueError: also invalid UTF-8 in a string
        return None
    ctx = (e.instrument, e.instrument_version, e.school_id, e.school_year, e.term, e.grade_band, e.sample,
           e.region, e.urbanicity)
    if not _context_ok(ctx):
        return None
    dec = _response_decoders(catalog).get((e.instrument, e.instrument_version))
    if dec is None:
        return None
    try:
        responses = dec[0].decode(e.responses)  # msgspec.Raw was only skipped over: parsed in full here
    except (msgspec.DecodeError, ValueError):
        return None
    if msgspec.structs.astuple(responses).count(msgspec.UNSET) == dec[1]:
        return None  # {}: minProperties 1
    try:
        ts = datetime.fromisoformat(e.submitted_at)
    except ValueError:
        return None
    if ts.tzinfo is None:
        return None
    return e


# --------------------------------------------------------------------------- pseudonymization


@dataclass(frozen=True)
class Pseudonymizer:
    """Keyed HMAC-SHA256 of (school, respondent): stable across terms, irreversible without the key."""

    key: bytes

    def respondent_key(self, school_id: str, respondent_id: str) -> str:
        msg = f"{school_id}\x1f{respondent_id}".encode()
        return hmac.digest(self.key, msg, "sha256").hex()[:32]


def load_pseudonymizer(secrets_dir: Path, *, allow_create: bool = True) -> tuple[Pseudonymizer, str]:
    """The HMAC key from ``LEAP_PSEUDONYM_KEY`` (hex), else from the local key file.

    On the embedded default the key file is created on first use (mode 600). Returns the
    pseudonymizer and a description of where the key came from.
    """
    env = os.environ.get("LEAP_PSEUDONYM_KEY", "").strip()
    if env:
        try:
            key = bytes.fromhex(env)
        except ValueError:
            raise LeapError(
                "LEAP_PSEUDONYM_KEY is not a hex string",
                hint="generate one with: python -c 'import secrets; print(secrets.token_hex(32))'",
            ) from None
        if len(key) < 16:
            raise LeapError("LEAP_PSEUDONYM_KEY is shorter than 16 bytes", hint="use 32 random bytes (64 hex)")
        return Pseudonymizer(key), "environment variable LEAP_PSEUDONYM_KEY"
    path = secrets_dir / "pseudonym.key"
    if path.exists():
        return Pseudonymizer(bytes.fromhex(path.read_text().strip())), str(path)
    if not allow_create:
        raise LeapError(f"no pseudonymization key at {path}", hint="set LEAP_PSEUDONYM_KEY")
    try:
        secrets_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first
        return Pseudonymizer(bytes.fromhex(path.read_text().strip())), str(path)
    except OSError as exc:
        raise LeapError(f"cannot create the pseudonymization key file {path}: {exc.strerror}",
                        hint="make LEAP_DATA_DIR writable or set LEAP_PSEUDONYM_KEY") from None
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_hex(32) + "\n")
    return Pseudonymizer(bytes.fromhex(path.read_text().strip())), f"{path} (created now)"
