"""The event contract: reason codes, the fast path's agreement with the schema, pseudonymization."""

from __future__ import annotations

import copy
import json
import random

import fastjsonschema
import pytest

from ingestion.contract import REASONS, Rejected, _compiled_validator, check_submission, check_submission_ex
from ingestion.fastpath import conforms as _fast_conforms
from ingestion.fastpath import fast_path_enabled
from ingestion.pseudonym import Pseudonymizer, load_pseudonymizer
from leap.instrument import load_catalog


def good_event(**over) -> dict:
    ins = load_catalog().latest("teacher")
    e = {
        "submission_id": "123e4567-e89b-12d3-a456-426614174000",
        "instrument": "teacher", "instrument_version": ins.version, "school_id": "SCH-0001",
        "respondent_id": "T-SCH-0001-7", "school_year": "2024-25", "term": "fall",
        "submitted_at": "2024-09-10T10:00:00Z", "grade_band": "middle", "sample": "national",
        "region": "west", "urbanicity": "city", "weight": 12.5,
        "demographics": {"grade": None, "gender": "female"},
        "responses": {i: k % 5 for k, i in enumerate(ins.item_ids)} | {ins.item_ids[0]: None},
    }
    e.update(over)
    return e


def test_good_event_passes_and_takes_fast_path():
    assert fast_path_enabled(), "the schema file changed: review _fast_conforms and update its hash"
    event, plain = check_submission_ex(json.dumps(good_event()).encode())
    assert plain
    assert event["submitted_at"].utcoffset().total_seconds() == 0


_DEEP = b"[" * 1000 + b"]" * 1000  # the json module itself cannot load or dump this


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda e: b"{not json", "invalid_json"),
        (lambda e: b"[1, 2]", "invalid_json"),
        (lambda e: {k: v for k, v in e.items() if k != "school_id"}, "schema_violation"),
        (lambda e: e | {"term": "summer"}, "schema_violation"),
        (lambda e: e | {"weight": -1}, "schema_violation"),
        (lambda e: e | {"duration_seconds": -1}, "schema_violation"),
        (lambda e: e | {"extra": 1}, "schema_violation"),
        (lambda e: e | {"responses": {"t_lf01": True}}, "schema_violation"),
        (lambda e: e | {"responses": {"t_lf01": "3"}}, "schema_violation"),
        (lambda e: e | {"instrument": "parent"}, "unknown_instrument"),
        (lambda e: e | {"instrument_version": "9.9"}, "unknown_instrument"),
        (lambda e: e | {"responses": {"t_lf01": 1, "t_zz99": 2}}, "unknown_item"),
        (lambda e: e | {"responses": {"t_lf01": 5}}, "category_out_of_range"),
        (lambda e: e | {"responses": {"t_lf01": -1}}, "category_out_of_range"),
        (lambda e: e | {"school_year": "2024-26"}, "invalid_school_year"),
        (lambda e: e | {"submitted_at": "2024-02-30T10:00:00Z"}, "invalid_timestamp"),
        # beyond the lake's nanosecond timestamps, or outside the contract's years 2000..2099
        (lambda e: e | {"submitted_at": "9999-12-31T23:59:59Z"}, "invalid_timestamp"),
        (lambda e: e | {"submitted_at": "1600-01-01T00:00:00Z"}, "invalid_timestamp"),
        (lambda e: e | {"submitted_at": "2262-05-01T00:00:00Z"}, "invalid_timestamp"),
        (lambda e: e | {"submitted_at": "1999-12-31T23:59:59.999Z"}, "invalid_timestamp"),
        (lambda e: e | {"submitted_at": "2100-01-01T00:00:00+05:00"}, "invalid_timestamp"),
        # RFC 3339 offsets: hours 00..23, minutes 00..59 (Python alone takes +05:60 as +06:00)
        (lambda e: e | {"submitted_at": "2024-09-10T10:00:00+05:60"}, "invalid_timestamp"),
        (lambda e: e | {"submitted_at": "2024-09-10T10:00:00-24:00"}, "invalid_timestamp"),
        # nesting: orjson stops at 1024 levels; shallower but far too deep for the schema
        (lambda e: json.dumps(e).encode()[:-1] + b', "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "invalid_json"),
        (lambda e: json.dumps(e | {"responses": {"t_lf01": "@"}}).encode().replace(b'"@"', _DEEP), "schema_violation"),
        (lambda e: json.dumps(e | {"classroom_ids": ["@", "@"]}).encode().replace(b'"@"', _DEEP), "schema_violation"),
    ],
)
def test_rejections_carry_reason(mutate, reason):
    raw = mutate(good_event())
    if isinstance(raw, dict):
        raw = json.dumps(raw).encode()
    with pytest.raises(Rejected) as info:
        check_submission(raw)
    assert info.value.reason == reason
    assert info.value.reason in REASONS
    assert info.value.detail


def test_integral_float_is_accepted_by_the_schema_but_not_the_fast_path():
    event, plain = check_submission_ex(json.dumps(good_event(responses={"t_lf01": 3.0})).encode())
    assert not plain and event["responses"]["t_lf01"] == 3


def test_integral_float_grade_is_accepted_but_not_plain():
    event, plain = check_submission_ex(json.dumps(good_event(demographics={"grade": 3.0})).encode())
    assert not plain and event["demographics"]["grade"] == 3


@pytest.mark.parametrize("ts", ["2000-01-01T00:00:00+23:59", "2099-12-31T23:59:59.999999999-23:59",
                                "2024-02-29T12:00:00-00:00", "2024-09-10T10:00:00.5+05:45"])
def test_timestamps_at_the_bounds_take_the_fast_path(ts):
    event, plain = check_submission_ex(json.dumps(good_event(submitted_at=ts)).encode())
    assert plain and event["submitted_at"].tzinfo is not None


def _mutations(rng: random.Random, base: dict) -> dict:
    e = copy.deepcopy(base)
    odd_values = [None, "", "x", 0, -3, 1.5, 3.0, True, [], {}, "2024-25", "fall", 10**6, "SCH 1"]
    for _ in range(rng.randint(1, 3)):
        where = rng.random()
        if where < 0.6:
            key = rng.choice(list(e))
            if rng.random() < 0.3:
                e.pop(key)
            else:
                e[key] = rng.choice(odd_values)
        elif where < 0.85 and isinstance(e.get("responses"), dict) and e["responses"]:
            item = rng.choice(list(e["responses"]))
            e["responses"][item] = rng.choice(odd_values)
        elif isinstance(e.get("demographics"), dict):
            e["demographics"][rng.choice(["grade", "gender", "x"])] = rng.choice(odd_values)
    return e


def test_fast_path_never_accepts_what_the_schema_rejects():
    """Differential check of the hand-written fast path against the compiled JSON Schema."""
    rng = random.Random(7)
    catalog = load_catalog()
    validator = _compiled_validator()
    fast_true = fast_false = 0
    for _ in range(5000):
        e = _mutations(rng, good_event())
        ins = catalog.get(e.get("instrument"), e.get("instrument_version")) if isinstance(
            e.get("instrument"), str) and isinstance(e.get("instrument_version"), str) else None
        if ins is not None and _fast_conforms(copy.deepcopy(e), ins):
            fast_true += 1
            validator(e)  # raises if the fast path accepted what the schema rejects
        else:
            fast_false += 1
            try:
                validator(e)
            except fastjsonschema.JsonSchemaValueException:
                continue
    assert fast_true > 50 and fast_false > 1000, "both sides of the fast path must be exercised"


def test_pseudonym_is_keyed_stable_and_not_the_raw_id():
    a, b = Pseudonymizer(b"k" * 32), Pseudonymizer(b"j" * 32)
    key = a.respondent_key("SCH-1", "T-1")
    assert key == a.respondent_key("SCH-1", "T-1")
    assert key != b.respondent_key("SCH-1", "T-1")
    assert key != a.respondent_key("SCH-2", "T-1")
    assert "T-1" not in key and len(key) == 32


def test_local_key_created_once_with_private_mode(tmp_path, monkeypatch):
    monkeypatch.delenv("LEAP_PSEUDONYM_KEY", raising=False)
    p1, where1 = load_pseudonymizer(tmp_path / "secrets" / "pseudonym.key")
    p2, where2 = load_pseudonymizer(tmp_path / "secrets" / "pseudonym.key")
    assert p1.key == p2.key and "created now" in where1 and "(created now)" not in where2
    assert (tmp_path / "secrets" / "pseudonym.key").stat().st_mode & 0o077 == 0
    monkeypatch.setenv("LEAP_PSEUDONYM_KEY", "ab" * 32)
    p3, where3 = load_pseudonymizer(tmp_path / "secrets" / "pseudonym.key")
    assert p3.key == bytes.fromhex("ab" * 32) and "LEAP_PSEUDONYM_KEY" in where3
