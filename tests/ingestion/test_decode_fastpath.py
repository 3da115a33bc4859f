"""The raw-bytes fast path (ingestion.fastpath.fast_check) and the packed decode against the reference path.

fast_check may only accept what check_submission_ex accepts on its plain fast path, with the
same values; rejects are always decided by check_submission_ex. decode_values with the fast
path must produce exactly the tables and rejects it produces without it.
"""

from __future__ import annotations

import copy
import json
import random
import uuid

import pyarrow as pa
import pytest

import ingestion.decode as decode
from ingestion.contract import Rejected, check_submission_ex
from ingestion.decode import PackedRecords, decode_packed, decode_run, decode_values
from ingestion.fastpath import fast_check
from ingestion.pseudonym import Pseudonymizer
from leap.instrument import load_catalog

CATALOG = load_catalog()
PSEUDO = Pseudonymizer(b"k" * 32)


def _event(rng: random.Random, name: str | None = None) -> dict:
    name = name or rng.choice(["teacher", "student"])
    ins = CATALOG.latest(name)
    school = f"SCH-{rng.randrange(50):04d}"
    e = {
        "submission_id": str(uuid.UUID(int=rng.getrandbits(128))),
        "instrument": name, "instrument_version": ins.version, "school_id": school,
        "respondent_id": f"R-{school}-{rng.randrange(10**6)}", "school_year": "2024-25",
        "term": rng.choice(["fall", "winter", "spring"]),
        "submitted_at": rng.choice(["2024-09-10T10:00:00Z", "2025-04-01T12:00:00.123+02:00",
                                    "2025-01-15T08:30:59.5-05:00", "2000-01-01T00:00:00+23:59",
                                    "2099-12-31T23:59:59.999999999-23:59"]),
        "grade_band": rng.choice(["elementary", "middle", "high"]), "sample": rng.choice(["national", "nextgen"]),
        "responses": {i.item_id: rng.choice([None, *range(i.max_category + 1)]) for i in ins.items},
    }
    if rng.random() < 0.7:
        e.update(region=rng.choice(["west", "south", None]), urbanicity=rng.choice(["city", "rural", None]),
                 weight=rng.choice([12.5, 1, None, 0.001]), duration_seconds=rng.choice([0, 0.5, 412.3, 90, None]))
    if rng.random() < 0.6:
        e["demographics"] = rng.choice([None, {}, {"grade": 3, "gender": "female"},
                                        {"grade": None, "race_ethnicity": "x" * 64, "parent_education": None}])
    if rng.random() < 0.1:
        e["schema_version"] = 1
    return e


ODD = [None, "", "x", 0, -1, 1.5, 3.0, True, False, [], {}, "2024-25", "fall", 10**6, 10**30, "SCH 1", 1e300,
       "2024-02-30T10:00:00Z", "2024-09-10T10:00:00", "2024-09-10T24:00:00Z", "2024-09-10T10:00:60Z", "\u00e9",
       "a" * 129, "a" * 65, "2024-26", "2099-00", 12, 13, -0.0, "1",
       # timestamps the lake cannot hold, or beyond RFC 3339's offsets (the reference rejects them)
       "9999-12-31T23:59:59Z", "1600-01-01T00:00:00Z", "2262-05-01T00:00:00Z", "2024-09-10T10:00:00+05:60",
       "1999-12-31T23:59:59Z", "2100-01-01T00:00:00Z", "2024-09-10T10:00:00-24:00", "2000-01-01T00:00:00+23:59"]


def _odd(rng: random.Random):
    """One of ODD, copied: a shared [] or {} put into an event and then edited would edit ODD (or itself)."""
    return copy.deepcopy(rng.choice(ODD))


def _mutate_dict(rng: random.Random, e: dict) -> dict:
    e = copy.deepcopy(e)
    for _ in range(rng.randint(1, 3)):
        where = rng.random()
        if where < 0.45:
            key = rng.choice(list(e))
            if rng.random() < 0.25:
                e.pop(key)
            else:
                e[key] = _odd(rng)
        elif where < 0.55:
            e[rng.choice(["extra", "schema_version", "weight", "duration_seconds", "region"])] = _odd(rng)
        elif where < 0.85 and isinstance(e.get("responses"), dict):
            if e["responses"] and rng.random() < 0.8:
                e["responses"][rng.choice(list(e["responses"]))] = _odd(rng)
            else:
                e["responses"][rng.choice(["t_zz99", "s_lf01", "t_lf01", "X"])] = rng.choice([None, 1])
        else:
            demo = e.get("demographics") if isinstance(e.get("demographics"), dict) else {}
            demo[rng.choice(["grade", "gender", "race_ethnicity", "x"])] = _odd(rng)
            e["demographics"] = demo
    return e


BYTE_EDITS = [b",", b"}", b"{", b'"', b" ", b"\\", b"\\u0041", b"\\ud800", b"\xff", b"\xc3\xa9", b"0", b"-",
              b"1e400", b"NaN", b"/*c*/", b"true", b",}", b"\n", b"\t"]


def _mutate_bytes(rng: random.Random, raw: bytes) -> bytes:
    i = rng.randrange(len(raw))
    what = rng.random()
    if what < 0.3:
        return raw[:i] + raw[i + 1:]
    if what < 0.8:
        return raw[:i] + rng.choice(BYTE_EDITS) + raw[i:]
    if what < 0.9:  # a duplicate key: the last one wins in orjson and msgspec alike
        return raw[:-1] + b',"term":' + json.dumps(rng.choice(ODD)).encode() + b"}"
    return raw + rng.choice([b" ", b" {}", b"x", b"\n"])


def _agrees(raw: bytes) -> bool:
    """Assert the fast path's answer is one check_submission_ex gives; return whether it accepted."""
    fast = fast_check(raw, CATALOG)
    if fast is None:
        return False
    try:
        event, plain = check_submission_ex(raw, CATALOG)
    except Rejected as rej:
        pytest.fail(f"fast path accepted what the reference rejects ({rej.reason}): {raw!r}")
    assert plain, raw
    for name in ("submission_id", "instrument", "instrument_version", "school_id", "respondent_id", "school_year",
                 "term", "grade_band", "sample"):
        assert getattr(fast, name) == event[name], (name, raw)
    return True


def test_fast_check_accepts_good_events():
    rng = random.Random(1)
    assert all(_agrees(json.dumps(_event(rng)).encode()) for _ in range(300))
    assert all(_agrees(json.dumps(_event(rng), separators=(",", ":")).encode()) for _ in range(300))


def test_fast_check_never_accepts_what_the_reference_rejects():
    rng = random.Random(7)
    accepted = declined = 0
    for n in range(12000):
        base = _event(rng)
        if n % 2:
            raw = json.dumps(_mutate_dict(rng, base)).encode()
        else:
            raw = json.dumps(base, separators=(",", ":") if n % 4 else None).encode()
            for _ in range(rng.randint(1, 2)):
                raw = _mutate_bytes(rng, raw)
        if _agrees(raw):
            accepted += 1
        else:
            declined += 1
    assert accepted > 400 and declined > 4000, (accepted, declined)


@pytest.mark.parametrize("raw", [
    b'{"schema_version": null}', b'{"schema_version": true}', b'{"schema_version": 1.0}', b'{"responses": {}}',
    b'{"responses": {"t_lf01": true}}', b'{"responses": {"t_lf01": 3.0}}', b'{"responses": {"t_zz99": null}}',
    b'{"responses": {"s_lf01": 1}}', b'{"responses": null}', b'{"weight": 0}', b'{"weight": true}',
    b'{"duration_seconds": -0.5}', b'{"duration_seconds": "60"}', b'{"duration_seconds": true}',
    b'{"demographics": {"grade": 12.0}}', b'{"demographics": {"x": null}}', b'{"extra": null}',
    b'{"term": "fall", "term": "summer"}', b'{"school_id": 5}', b'{"respondent_id": ""}',
    b'{"submitted_at": "2024-09-10T10:00:00Z\\n"}', b'{"school_id": "SCH-1\\n"}', b'{"region": ""}',
    b'{"submitted_at": "9999-12-31T23:59:59Z"}', b'{"submitted_at": "1600-01-01T00:00:00Z"}',
    b'{"submitted_at": "2262-05-01T00:00:00Z"}', b'{"submitted_at": "2024-09-10T10:00:00+05:60"}',
    b'{"submitted_at": "2024-09-10T10:00:00+24:00"}', b'{"submitted_at": "1999-12-31T23:59:59.9Z"}',
    b'{"submitted_at": "2000-01-01T00:00:00+23:59"}', b'{"demographics": {"grade": 3.0}}',
    b'{"responses": {"t_lf01": ' + b"[" * 1000 + b"]" * 1000 + b"}}",
    b'{"responses": {"t_lf01": ' + b"[" * 100_000 + b"]" * 100_000 + b"}}",
    b'{"classroom_ids": [' + b"[" * 1000 + b"]" * 1000 + b"]}",
])
def test_edge_cases_agree(raw):
    base = json.dumps(_event(random.Random(3), "teacher")).encode()[:-1]
    _agrees(base + b"," + raw[1:])


def _stream(n: int, seed: int) -> list[tuple[int, bytes | None, bytes | None]]:
    rng = random.Random(seed)
    records = []
    for i in range(n):
        e = _event(rng)
        r = rng.random()
        if r < 0.1:
            value = json.dumps(_mutate_dict(rng, e)).encode()
        elif r < 0.15:
            value = _mutate_bytes(rng, json.dumps(e).encode())
        elif r < 0.17:
            value = json.dumps(e | {"responses": {k: (None if v is None else float(v))
                                                  for k, v in e["responses"].items()}}).encode()
        elif r < 0.175:  # a grade the schema takes as an integer (3.0), the int8 column only as 3
            value = json.dumps(e | {"demographics": {"grade": float(rng.randrange(13))}}).encode()
        elif r < 0.18:
            value = None
        else:
            value = json.dumps(e, separators=(",", ":")).encode()
        records.append((1000 + 2 * i, f"k{i}".encode() if i % 7 else None, value))
    return records


def _without_time(t: pa.Table) -> pa.Table:
    return t.drop_columns(["ingested_at"])


def test_decode_with_fast_path_equals_reference(monkeypatch):
    records = _stream(3000, seed=5)
    fast = decode_run(records, 3, CATALOG, PSEUDO)
    monkeypatch.setattr(decode, "fast_check", lambda raw, catalog: None)  # every record through the reference
    ref = decode_run(records, 3, CATALOG, PSEUDO)
    assert (fast.first_offset, fast.last_offset) == (ref.first_offset, ref.last_offset) == (1000, 6998)
    assert sorted(fast.tables) == sorted(ref.tables)
    for pkey in ref.tables:
        assert _without_time(fast.tables[pkey]).equals(_without_time(ref.tables[pkey])), pkey
    assert [(r.offset, r.key, r.value, r.reason, r.detail) for r in fast.rejects] == \
        [(r.offset, r.key, r.value, r.reason, r.detail) for r in ref.rejects]
    assert len(ref.rejects) > 100 and fast.n_valid > 2000


def test_packed_round_trip_and_decode():
    records = _stream(500, seed=9) + [(5000, None, b""), (5001, b"k", None)]
    packed = PackedRecords.pack([r[0] for r in records], [r[2] for r in records])
    offsets, values = packed.unpack()
    assert offsets == [r[0] for r in records] and values == [r[2] for r in records]
    run = decode_packed(packed, 1, CATALOG, PSEUDO)
    direct = decode_values(offsets, values, 1, CATALOG, PSEUDO)
    assert [(r.offset, r.reason, r.index) for r in run.rejects] == [(r.offset, r.reason, r.index) for r in direct.rejects]
    assert all(r.key is None and records[r.index][0] == r.offset for r in run.rejects)
    assert {p: _without_time(t) for p, t in run.tables.items()} == {p: _without_time(t) for p, t in direct.tables.items()}


TIMESTAMPS = [f"{y}-{md}T{hms}{frac}{off}" for y in ("0001", "1600", "1677", "1999", "2000", "2024", "2099", "2100",
                                                    "2262", "9999")
              for md in ("01-01", "02-29", "02-30", "12-31", "13-01") for hms in ("00:00:00", "23:59:59", "24:00:00")
              for frac in ("", ".123456789") for off in ("Z", "+00:00", "-00:00", "+23:59", "-23:59", "+05:60", "+24:00")]


def test_fast_path_takes_exactly_the_timestamps_the_reference_takes():
    """Years 2000..2099 as written, offsets up to 23:59, real dates: the fast path is not narrower either."""
    base = _event(random.Random(4), "teacher")
    verdicts = {}
    for ts in TIMESTAMPS:
        raw = json.dumps(base | {"submitted_at": ts}).encode()
        try:
            check_submission_ex(raw, CATALOG)
            reference = True
        except Rejected as rej:
            assert rej.reason == "invalid_timestamp", (ts, rej)
            reference = False
        assert (fast_check(raw, CATALOG) is not None) == reference, ts
        verdicts[ts] = reference
    accepted = {ts for ts, ok in verdicts.items() if ok}
    assert accepted and all(ts[:4] in ("2000", "2024", "2099") for ts in accepted)
    assert not any(("+05:60" in ts or "+24:00" in ts or "T24" in ts or "02-30" in ts) for ts in accepted)
    assert "2000-01-01T00:00:00+23:59" in accepted and "2099-12-31T23:59:59.123456789-23:59" in accepted
