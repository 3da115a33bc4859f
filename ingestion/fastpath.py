"""Two fast pre-checks in front of the reference validator (:mod:`ingestion.contract`).

- :func:`conforms` for an event already parsed into a dict (producers, the slow path's first step);
- :func:`fast_check` for the raw bytes of a Kafka record: one strict, typed C decode (msgspec).

Both may only say yes to events the reference validator accepts; anything else goes to it, and it
decides and explains (tests/ingestion differential-test them against the compiled JSON Schema). The
vocabularies (terms, grade bands, samples, regions, urbanicities), the required and allowed fields,
the demographic lengths and the bounds of the classroom list are read from the schema file itself; the patterns below are written for
schema v1, so the fast path is tied to the schema file's content: if the file changes it switches
itself off until it is reviewed.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from functools import lru_cache
from typing import Annotated, Literal

import msgspec

from leap.instrument import Catalog, Instrument

# The compiled JSON Schema validator costs ~30 us per event, more than the Kafka client
# spends fetching it. conforms() is a conservative pre-check written for schema v1:
# True only for events that the schema accepts and that pass every semantic check; anything
# unusual (floats for integers, extra keys, unknown items) returns False and goes to the
# reference validator, which decides and explains.

_FAST_SCHEMA_SHA256 = "047809f045d170b0232931f37d5ec2570e02c956f646ae3106b62fc6145e3b0c"
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")
_VERSION = re.compile(r"[0-9]+\.[0-9]+")
_SCHOOL = re.compile(r"[A-Za-z0-9_-]{1,64}")
_YEAR = re.compile(r"[0-9]{4}-[0-9]{2}")
_CLASSROOM = re.compile(r"[A-Za-z0-9_.-]{1,64}")
# submitted_at: the schema's shape, narrowed to what the reference (contract._parse_ts) accepts whatever the
# date: a year 20xx (contract.SUBMITTED_AT_YEARS) and a UTC offset of at most 23:59. The date itself
# (no 30 February, no hour 24) is checked by datetime.fromisoformat.
_TS_PATTERN = (r"20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?"
               r"(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])")
_TS = re.compile(_TS_PATTERN)
_FAST: bool | None = None


def fast_path_enabled() -> bool:
    global _FAST
    if _FAST is None:
        from ingestion.contract import SCHEMA_PATH

        _FAST = hashlib.sha256(SCHEMA_PATH.read_bytes()).hexdigest() == _FAST_SCHEMA_SHA256
    return _FAST


class _Vocab:
    """What the fast path needs from the schema file, read once."""

    def __init__(self, schema: dict):
        props = schema["properties"]
        self.required = frozenset(schema["required"])
        self.allowed = frozenset(props)
        enum = {k: frozenset(props[k]["enum"]) for k in ("term", "grade_band", "sample", "region", "urbanicity")}
        self.terms, self.bands, self.samples = enum["term"], enum["grade_band"], enum["sample"]
        self.regions, self.urbanicities = enum["region"], enum["urbanicity"]
        demo = props["demographics"]["properties"]
        self.demo_max = {k: v["maxLength"] for k, v in demo.items() if "maxLength" in v}
        classrooms = props["classroom_ids"]
        self.classrooms = (classrooms["minItems"], classrooms["maxItems"])


@lru_cache(maxsize=1)
def _vocab() -> _Vocab:
    from ingestion.contract import submission_schema

    return _Vocab(submission_schema())


def conforms(e: dict, ins: Instrument) -> bool:
    """True only when ``e`` is schema-valid and passes every semantic check against ``ins``."""
    if not fast_path_enabled():
        return False
    keys, vocab = e.keys(), _vocab()
    if not (vocab.required <= keys and keys <= vocab.allowed):
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
    return _fast_optional(e, vocab) and _fast_responses(e["responses"], ins)


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
    vocab = _vocab()
    return (
        _NAME.fullmatch(instrument) is not None
        and _VERSION.fullmatch(version) is not None
        and _SCHOOL.fullmatch(school) is not None
        and _YEAR.fullmatch(year) is not None
        and (int(year[:4]) + 1) % 100 == int(year[5:])
        and term in vocab.terms
        and band in vocab.bands
        and sample in vocab.samples
        and region in vocab.regions
        and urbanicity in vocab.urbanicities
    )


def _fast_optional(e: dict, vocab: _Vocab) -> bool:
    w = e.get("weight")
    if w is not None and not (type(w) in (int, float) and w > 0):
        return False
    d = e.get("duration_seconds")
    if d is not None and not (type(d) in (int, float) and d >= 0):
        return False
    ids = e.get("classroom_ids")
    if ids is not None and not _classrooms_conform(ids, vocab):
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
        elif k not in vocab.demo_max or (v is not None and (type(v) is not str or len(v) > vocab.demo_max[k])):
            return False
    return True


def _classrooms_conform(ids, vocab: _Vocab) -> bool:
    """A list of distinct section ids within the schema's bounds; fullmatch, so that no id ends in a
    newline (the schema's ``$`` would let one through: the reference validator decides those)."""
    lo, hi = vocab.classrooms
    if type(ids) is not list or not lo <= len(ids) <= hi:
        return False
    if not all(type(c) is str and _CLASSROOM.fullmatch(c) is not None for c in ids):
        return False
    return len(set(ids)) == len(ids)


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


# --------------------------------------------------------------------------- raw bytes
#
# fast_check(raw, catalog) does the work of orjson.loads + conforms() in one strict,
# typed C decode (msgspec) without building the event dict. Like conforms() it may only
# say yes to events that check_submission_ex would accept on its fast path (plain=True);
# None sends the record to check_submission_ex, which decides and explains. What makes the
# two agree (tests/ingestion/test_decode_fastpath.py checks them differentially):
#   * msgspec parses strict RFC 8259 JSON, like orjson: no comments, NaN, trailing commas or
#     trailing content, valid UTF-8 and surrogates only; duplicate keys: the last one wins;
#   * its types are strict: no bool for int, no float for int, no number for str; unknown
#     fields are an error (additionalProperties: false, in demographics and responses too);
#   * the constraints are those of conforms(): the per-record patterns fully anchored,
#     the school context through the same cached _context_conforms, categories per item;
#   * nesting: msgspec recurses under the interpreter's recursion limit and raises RecursionError
#     (not a DecodeError) on JSON nested ~1000 levels deep, even inside the skipped responses:
#     None, and the reference decides (orjson stops at 1024 levels: invalid_json; the schema
#     allows 3: schema_violation).


class _FastDemographics(msgspec.Struct, forbid_unknown_fields=True):
    grade: Annotated[int, msgspec.Meta(ge=0, le=12)] | None = None
    gender: Annotated[str, msgspec.Meta(max_length=32)] | None = None
    race_ethnicity: Annotated[str, msgspec.Meta(max_length=64)] | None = None
    parent_education: Annotated[str, msgspec.Meta(max_length=64)] | None = None


# A section id fully anchored (\Z: no trailing newline); the list's bounds are the schema's minItems and
# maxItems (the schema hash pins them); uniqueness (uniqueItems) is checked after the decode.
_ClassroomId = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_.-]{1,64}\Z")]
_ClassroomIds = Annotated[list[_ClassroomId], msgspec.Meta(min_length=1, max_length=12)]


class _FastEvent(msgspec.Struct, forbid_unknown_fields=True):
    submission_id: Annotated[str, msgspec.Meta(pattern=r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                                                       r"[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z")]
    instrument: str
    instrument_version: str
    school_id: str
    respondent_id: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
    school_year: str
    term: str
    submitted_at: Annotated[str, msgspec.Meta(pattern=f"^{_TS_PATTERN}\\Z")]
    grade_band: str
    sample: str
    responses: msgspec.Raw
    region: str | None = None
    urbanicity: str | None = None
    weight: Annotated[float, msgspec.Meta(gt=0)] | None = None
    duration_seconds: Annotated[float, msgspec.Meta(ge=0)] | None = None
    demographics: _FastDemographics | None = None
    classroom_ids: _ClassroomIds | None = None
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
    except (msgspec.DecodeError, ValueError, TypeError, RecursionError):
        # ValueError: also invalid UTF-8 in a string. RecursionError: msgspec nests on the C stack under
        # the interpreter's recursion limit (~1000 levels), also to skip over the responses (msgspec.Raw).
        return None
    ctx = (e.instrument, e.instrument_version, e.school_id, e.school_year, e.term, e.grade_band, e.sample,
           e.region, e.urbanicity)
    if not _context_ok(ctx):
        return None
    if e.classroom_ids is not None and len(set(e.classroom_ids)) != len(e.classroom_ids):
        return None  # uniqueItems
    dec = _response_decoders(catalog).get((e.instrument, e.instrument_version))
    if dec is None:
        return None
    try:
        responses = dec[0].decode(e.responses)  # msgspec.Raw was only skipped over: parsed in full here
    except (msgspec.DecodeError, ValueError, RecursionError):
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


