"""Malformed events, one generator per dead-letter reason of :data:`ingestion.contract.REASONS`.

Each takes a valid event (a dict) and returns bytes that the reference validator rejects with that
reason; :func:`malformed` mixes corrupted copies of valid events into a stream.
"""

from __future__ import annotations

import numpy as np
import orjson

from ingestion.contract import REASONS
from leap.instrument import Catalog
from simulator.population import submission_ids


def _bad_json(e: dict, catalog: Catalog, rng: np.random.Generator) -> bytes:
    raw = orjson.dumps(e)
    variant = int(rng.integers(0, 4))
    if variant == 0:  # truncated in transit
        return raw[: int(rng.integers(1, len(raw) - 1))]
    if variant == 1:  # a JSON array, not an object
        return orjson.dumps([e])
    if variant == 2:  # not UTF-8 (latin-1 bytes from a legacy export)
        return b"\xff\xfe" + raw[2:]
    return raw.replace(b'"', b"'")  # Python repr instead of JSON


def _schema_violation(e: dict, catalog: Catalog, rng: np.random.Generator) -> bytes:
    variant = int(rng.integers(0, 6))
    if variant == 0:
        del e["respondent_id"]  # missing required field
    elif variant == 1:
        e["term"] = "summer"  # bad enum
    elif variant == 2:
        e["grade_band"] = 7  # wrong type
    elif variant == 3:
        e["responses"][next(iter(e["responses"]))] = "3"  # category as a string
    elif variant == 4:
        e["comment"] = "free text the schema does not allow"  # extra property
    else:
        e["submission_id"] = e["submission_id"].replace("-", "")[:30]  # not a UUID
    return orjson.dumps(e)


def _unknown_instrument(e: dict, catalog: Catalog, rng: np.random.Generator) -> bytes:
    if rng.random() < 0.5:
        e["instrument"] = "parent"
    else:
        e["instrument_version"] = "9.0"
    return orjson.dumps(e)


def _unknown_item(e: dict, catalog: Catalog, rng: np.random.Generator) -> bytes:
    e["responses"][f"{e['instrument'][0]}_zz{int(rng.integers(1, 99)):02d}"] = int(rng.integers(0, 5))
    return orjson.dumps(e)


def _category_out_of_range(e: dict, catalog: Catalog, rng: np.random.Generator) -> bytes:
    ins = catalog.get(e["instrument"], e["instrument_version"])
    item = ins.items[int(rng.integers(0, len(ins.items)))]
    e["responses"][item.item_id] = int(rng.choice([item.max_category + 1, item.max_category + 5, -1]))
    return orjson.dumps(e)


def _invalid_school_year(e: dict, catalog: Catalog, rng: np.random.Generator) -> bytes:
    first = int(e["school_year"][:4])
    second = (first + 2) % 100 if rng.random() < 0.5 else first % 100  # skips a year, or repeats one
    e["school_year"] = f"{first}-{second:02d}"
    return orjson.dumps(e)


def _invalid_timestamp(e: dict, catalog: Catalog, rng: np.random.Generator) -> bytes:
    date, _, clock = e["submitted_at"].partition("T")
    variant = int(rng.integers(0, 3))
    if variant == 0:
        e["submitted_at"] = f"{date[:4]}-13-{date[8:]}T{clock}"  # month 13
    elif variant == 1:
        e["submitted_at"] = f"{date[:4]}-02-30T{clock}"  # no such day
    else:
        e["submitted_at"] = f"{date}T25{clock[2:]}"  # hour 25
    return orjson.dumps(e)


MUTATORS = {
    "invalid_json": _bad_json,
    "schema_violation": _schema_violation,
    "unknown_instrument": _unknown_instrument,
    "unknown_item": _unknown_item,
    "category_out_of_range": _category_out_of_range,
    "invalid_school_year": _invalid_school_year,
    "invalid_timestamp": _invalid_timestamp,
}
assert set(MUTATORS) == set(REASONS), "every dead-letter reason needs a malformed-event generator"



def malformed(pending: list[tuple], share: float, catalog: Catalog, rng: np.random.Generator) -> list[tuple]:
    """``share`` of the final stream: corrupted copies (with fresh ids) of valid events, every reason
    in turn, in random order."""
    originals = [r for r in pending if r[4] == "original"]
    if share <= 0 or not originals:
        return []
    n = max(1, round(len(pending) * share / (1 - share)))
    reasons = [REASONS[i % len(REASONS)] for i in range(n)]
    reasons = [reasons[i] for i in rng.permutation(n).tolist()]
    templates = rng.integers(0, len(originals), size=n).tolist()
    ids = submission_ids(n, rng)
    out = []
    for reason, t, sid in zip(reasons, templates, ids, strict=True):
        ms, _, key, value, _, _ = originals[t]
        event = orjson.loads(value)
        event["submission_id"] = sid
        out.append((ms + int(rng.integers(0, 60_000)), 2, key, MUTATORS[reason](event, catalog, rng), "malformed",
                    reason))
    return out

