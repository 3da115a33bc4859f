"""Poison pills: whatever a Kafka record's bytes, the decode step never raises.

Every record ends either as one row of one table of the DecodedRun or as one Reject with a reason of
``ingestion.contract.REASONS`` and a detail, and the verdict is the reference validator's
(``check_submission``). The shapes that used to crash ``decode_values`` (and so the consumer, forever at
the same offset) are fixed where they belong and pinned here with their reasons: timestamps the lake
cannot hold or that are not RFC 3339 (years 9999, 1600, 2262, offset +05:60), a float grade the schema
tolerates (3.0, stored as 3), JSON nested 1,000 or 100,000 levels deep. A seeded corpus of random and
mutated bytes, mixed between valid records, checks the accounting; the last line of defence (an
unexpected error, a record Arrow refuses) is checked by widening the contract on purpose.
"""

from __future__ import annotations

import json
import random
import uuid
from datetime import UTC, datetime

import pytest

import ingestion.contract as contract
import ingestion.decode as decode
from ingestion.contract import REASONS, Rejected, check_submission, check_submission_ex
from ingestion.decode import PackedRecords, decode_packed, decode_values
from ingestion.fastpath import fast_check
from ingestion.pseudonym import Pseudonymizer
from leap.instrument import load_catalog

CATALOG = load_catalog()
PSEUDO = Pseudonymizer(b"p" * 32)


def _event(rng: random.Random, **over) -> dict:
    name = rng.choice(["teacher", "student"])
    ins = CATALOG.latest(name)
    school = f"SCH-{rng.randrange(30):04d}"
    e = {"submission_id": str(uuid.UUID(int=rng.getrandbits(128))), "instrument": name,
         "instrument_version": ins.version, "school_id": school, "respondent_id": f"R-{school}-{rng.randrange(10**6)}",
         "school_year": "2024-25", "term": rng.choice(["fall", "spring"]), "submitted_at": "2024-10-01T12:00:00Z",
         "grade_band": "middle", "sample": "national", "region": "west", "urbanicity": "city", "weight": 2.5,
         "demographics": {"grade": 7, "gender": "female"},
         "responses": {i.item_id: rng.choice([None, *range(i.max_category + 1)]) for i in ins.items}}
    e.update(over)
    return e


def _raw(e: dict) -> bytes:
    return json.dumps(e, separators=(",", ":")).encode()


def _with(rng: random.Random, field: bytes, value: bytes) -> bytes:
    """A valid event whose ``field`` (a top-level key, or ``a.b`` one level down) is replaced by raw JSON bytes."""
    e = _event(rng)
    outer, _, inner = field.decode().partition(".")
    marker = "\u0001MARK\u0001"
    if inner:
        e[outer] = {**(e[outer] if isinstance(e.get(outer), dict) else {}), inner: marker}
    else:
        e[outer] = marker
    return _raw(e).replace(json.dumps(marker).encode(), value)


def _deep(depth: int, kind: str = "list") -> bytes:
    return b"[" * depth + b"1" + b"]" * depth if kind == "list" else b'{"a":' * depth + b"1" + b"}" * depth


def _verdict(value: bytes | None) -> str:
    """The reference validator's verdict: "stored" or a reason code."""
    if value is None:
        return "invalid_json"
    try:
        check_submission(value, CATALOG)
    except Rejected as rej:
        assert rej.reason in REASONS and rej.detail, rej
        return rej.reason
    return "stored"


def _decode(values: list[bytes | None]):
    """decode_values over ``values``, with the accounting every run must satisfy.

    Returns the run, the stored rows by offset (pkey, row) and the rejects by offset.
    """
    offsets = [7_000 + 3 * i for i in range(len(values))]
    run = decode_values(offsets, values, 4, CATALOG, PSEUDO)
    stored: dict[int, tuple] = {}
    for pkey, table in run.tables.items():
        for row in table.to_pylist():
            assert row["kafka_offset"] not in stored, "a record stored twice"
            assert (row["instrument"], row["school_year"], row["term"]) == pkey
            stored[row["kafka_offset"]] = (pkey, row)
    rejected = {}
    for r in run.rejects:
        assert r.offset not in rejected, "a record rejected twice"
        assert r.reason in REASONS, r.reason
        assert isinstance(r.detail, str) and r.detail.strip(), r
        assert offsets[r.index] == r.offset and r.value is values[r.index]
        rejected[r.offset] = r
    assert not stored.keys() & rejected.keys(), "a record both stored and rejected"
    assert stored.keys() | rejected.keys() == set(offsets), "a record neither stored nor rejected"
    assert len(stored) + len(rejected) == len(values)
    assert [r.index for r in run.rejects] == sorted(r.index for r in run.rejects)
    return run, offsets, stored, rejected


def _check_against_reference(values: list[bytes | None]):
    """Decode ``values``; each record's fate must be the reference's verdict, and no gap may remain."""
    run, offsets, stored, rejected = _decode(values)
    for offset, value in zip(offsets, values, strict=True):
        verdict = _verdict(value)
        if verdict == "stored":
            assert offset in stored, value[:300]
            assert stored[offset][1]["submission_id"] == check_submission(value, CATALOG)["submission_id"]
        else:
            assert offset in rejected, (verdict, value[:300] if value else value)
            assert rejected[offset].reason == verdict, (rejected[offset], value[:300] if value else value)
    gaps = [r for r in run.rejects if r.detail.startswith("unprocessable:")]
    assert not gaps, f"records the contract accepts but the decode cannot take: {gaps[:3]}"
    return run, offsets, stored, rejected


# --------------------------------------------------------------------------- the shapes that crashed

SHAPES = [
    # (id, field, raw JSON value, expected verdict)
    ("year 9999", b"submitted_at", b'"9999-12-31T23:59:59Z"', "invalid_timestamp"),
    ("year 1600", b"submitted_at", b'"1600-01-01T00:00:00Z"', "invalid_timestamp"),
    ("year 2262-05", b"submitted_at", b'"2262-05-01T00:00:00+00:00"', "invalid_timestamp"),
    ("year 0001", b"submitted_at", b'"0001-01-01T00:00:00+01:00"', "invalid_timestamp"),
    ("year 1999", b"submitted_at", b'"1999-12-31T23:59:59Z"', "invalid_timestamp"),
    ("year 2100", b"submitted_at", b'"2100-01-01T00:00:00Z"', "invalid_timestamp"),
    ("offset +05:60", b"submitted_at", b'"2024-09-10T10:00:00+05:60"', "invalid_timestamp"),
    ("offset -00:60", b"submitted_at", b'"2024-09-10T10:00:00-00:60"', "invalid_timestamp"),
    ("offset +24:00", b"submitted_at", b'"2024-09-10T10:00:00+24:00"', "invalid_timestamp"),
    ("offset +99:99", b"submitted_at", b'"2024-09-10T10:00:00+99:99"', "invalid_timestamp"),
    ("hour 24", b"submitted_at", b'"2024-09-10T24:00:00Z"', "invalid_timestamp"),
    ("leap second", b"submitted_at", b'"2024-12-31T23:59:60Z"', "invalid_timestamp"),
    ("first instant", b"submitted_at", b'"2000-01-01T00:00:00+23:59"', "stored"),
    ("last instant", b"submitted_at", b'"2099-12-31T23:59:59.999999999-23:59"', "stored"),
    ("grade 3.0", b"demographics.grade", b"3.0", "stored"),
    ("grade 12.0", b"demographics.grade", b"12.0", "stored"),
    ("grade -0.0", b"demographics.grade", b"-0.0", "stored"),
    ("grade 1e0", b"demographics.grade", b"1e0", "stored"),
    ("grade 3.5", b"demographics.grade", b"3.5", "schema_violation"),
    ("grade 13.0", b"demographics.grade", b"13.0", "schema_violation"),
    ("responses 1,000 deep", b"responses", _deep(1000), "schema_violation"),
    ("responses 1,000 deep objects", b"responses", _deep(1000, "object"), "schema_violation"),
    ("responses 100,000 deep", b"responses", _deep(100_000), "invalid_json"),
    ("response 1,000 deep", b"responses.t_lf01", _deep(1000), "schema_violation"),
    ("response 100,000 deep", b"responses.t_lf01", _deep(100_000), "invalid_json"),
    ("classrooms 1,000 deep", b"classroom_ids", b"[" + _deep(1000) + b"," + _deep(1000) + b"]", "schema_violation"),
    ("classrooms 100,000 deep", b"classroom_ids", b"[" + _deep(100_000) + b"]", "invalid_json"),
    ("demographics 1,000 deep", b"demographics", _deep(1000, "object"), "schema_violation"),
    ("gender 1,000 deep", b"demographics.gender", _deep(1000), "schema_violation"),
    ("weight 1,000 deep", b"weight", _deep(1000), "schema_violation"),
    ("extra field 1,000 deep", b"extra", _deep(1000), "schema_violation"),
    ("extra field 100,000 deep", b"extra", _deep(100_000, "object"), "invalid_json"),
]


@pytest.mark.parametrize(("field", "value", "expected"), [s[1:] for s in SHAPES], ids=[s[0] for s in SHAPES])
def test_shape_gets_its_verdict_and_never_crashes(field, value, expected):
    rng = random.Random(sum(field) + len(value))
    raw = _with(rng, field, value)
    assert _verdict(raw) == expected
    if expected != "stored":
        assert fast_check(raw, CATALOG) is None
    goods = [_raw(_event(rng)) for _ in range(6)]
    values = goods[:3] + [raw] + goods[3:]
    run, offsets, stored, rejected = _check_against_reference(values)
    assert len(stored) == 6 + (expected == "stored")
    if expected == "stored":
        row = stored[offsets[3]][1]
        event, plain = check_submission_ex(raw, CATALOG)
        assert row["submitted_at"] == event["submitted_at"]  # the same instant (both truncated to microseconds)
        if field.startswith(b"demographics.grade"):
            assert not plain and row["grade"] == int(float(value)) and type(row["grade"]) is int
    else:
        assert rejected[offsets[3]].reason == expected


def test_timestamp_bounds_are_instants_the_lake_holds():
    rng = random.Random(2)
    values = [_with(rng, b"submitted_at", s) for s in
              (b'"2000-01-01T00:00:00+23:59"', b'"2099-12-31T23:59:59.999999999-23:59"', b'"2024-02-29T00:00:00Z"')]
    _, offsets, stored, _ = _check_against_reference(values)
    assert [stored[o][1]["submitted_at"] for o in offsets] == [
        datetime(1999, 12, 31, 0, 1, tzinfo=UTC), datetime(2100, 1, 1, 23, 58, 59, 999999, tzinfo=UTC),
        datetime(2024, 2, 29, tzinfo=UTC)]


def test_float_grade_takes_the_slow_path_and_is_stored_as_int():
    rng = random.Random(3)
    raw = _with(rng, b"demographics.grade", b"3.0")
    event, plain = check_submission_ex(raw, CATALOG)
    assert not plain and event["demographics"]["grade"] == 3
    line = json.loads(decode._normalized(event))
    assert line["demographics"]["grade"] == 3 and type(line["demographics"]["grade"]) is int


# --------------------------------------------------------------------------- a seeded corpus of bad bytes

_JSONISH = b'{}[]":,0123456789.eE+-tfnrulas \\/\t\n\xff\x00'
_BYTE_EDITS = [b",", b"}", b"{", b"[", b"]", b'"', b" ", b"\\", b"\\u0000", b"\\ud800", b"\\udfff", b"\xff", b"\xc0\xaf",
               b"\xed\xa0\x80", b"\xef\xbb\xbf", b"\x00", b"0", b"-", b"1e400", b"NaN", b"Infinity", b"-Infinity",
               b"/*c*/", b"true", b",}", b"\n", b"\r", b"\t", b"\x0c", b"\xe2\x80\xa8"]
_NUMBERS = [b"1e308", b"1e309", b"-1e400", b"1e-400", b"1e-320", b"18446744073709551616", b"9" * 400, b"-0",
            b"-0.0", b"0.0", b"3.0", b"3.5", b"1E0", b"NaN", b"Infinity", b"-Infinity", b"1.", b".5", b"01", b"+1",
            b"0x10", b"12", b"13", b"127", b"128", b"-129", b"4", b"5", b"true", b"null"]
_FIELDS = [b"weight", b"demographics.grade", b"responses.t_lf01", b"responses.s_lf01", b"schema_version",
           b"submitted_at", b"school_year", b"term", b"region", b"classroom_ids", b"demographics", b"responses",
           b"respondent_id", b"instrument", b"extra", b"demographics.gender"]
_STRINGS = [b'"\\ud800"', b'"a\\udfffb"', b'"\\ud83d\\ude00"', b'"a\\u0000b"', b'"\xed\xa0\x80"', b'"a\x00b"',
            b'"\xef\xbb\xbfx"', b'"\xe2\x80\xa8"', b'"x\\n"', b'"' + b"x" * 100_000 + b'"', b'"' + "é".encode() * 129 + b'"',
            b'"' + "\U0001F600".encode() * 33 + b'"', b'""', b'"2024-25"', '"２０２４-25"'.encode(), b'"2024-09-10T10:00:00Z"',
            b'"2024-09-10T10:00:00"', b'"2024-09-10 10:00:00Z"', b'"2024-09-10T10:00:00.1234567890Z"',
            b'"9999-12-31T23:59:59+23:59"', b'"2024-09-10T10:00:00+05:60"', b'"0000-01-01T00:00:00Z"']
_TIMESTAMPS = [f'"{y:04d}-{m:02d}-{d:02d}T{hh:02d}:{mm:02d}:{ss:02d}{frac}{off}"'.encode()
               for y in (0, 1, 1600, 1677, 1678, 1969, 1999, 2000, 2024, 2099, 2100, 2261, 2262, 2263, 9999)
               for m, d, hh, mm, ss in ((1, 1, 0, 0, 0), (12, 31, 23, 59, 59), (2, 29, 12, 0, 0), (4, 11, 23, 47, 16))
               for frac in ("", ".999999999")
               for off in ("Z", "+00:00", "-23:59", "+23:59", "+05:60", "+24:00", "-00:00")]


def _dup(rng: random.Random) -> bytes:
    """A key given twice: the validators take the last, Arrow refuses such a line."""
    first, second = rng.sample([b'"2024-09-10T10:00:00Z"', b'"9999-12-31T23:59:59Z"', b'"2024-09-10T10:00:00+05:60"',
                                b"3", b"3.0", b'"fall"', b'"summer"', b"null", b"1"], 2)
    field = rng.choice([b"submitted_at", b"term", b"weight"])
    e = _raw(_event(rng))
    return e[:-1] + b',"' + field + b'":' + first + b',"' + field + b'":' + second + b"}"


def _dup_inside(rng: random.Random) -> bytes:
    e = _event(rng)
    item = next(iter(e["responses"]))
    raw = _raw(e)
    if rng.random() < 0.5:
        return raw.replace(b'"responses":{', b'"responses":{"' + item.encode() + b'":' + rng.choice(_NUMBERS) + b",")
    return raw.replace(b'"demographics":{', b'"demographics":{"grade":' + rng.choice(_NUMBERS) + b",")


def _corpus(seed: int) -> list[bytes | None]:
    rng = random.Random(seed)
    bad: list[bytes | None] = [None, b"", b" ", b"null", b"[]", b"{}", b"0", b'"x"', b"\xef\xbb\xbf" + _raw(_event(rng)),
                               _raw(_event(rng)).decode().encode("utf-16"), _raw(_event(rng)) + b"\x00",
                               b"\x00" + _raw(_event(rng)), _raw(_event(rng)) + b"\n", b"\r\n" + _raw(_event(rng)),
                               json.dumps(_event(rng), indent=2).encode(),  # valid, on several lines
                               b" " * (2 << 20) + _raw(_event(rng)),  # valid, longer than Arrow's 1 MiB block
                               b"[" * 100_000, b"{" * 100_000, b'{"a":' * 100_000]
    for _ in range(2000):  # random bytes, from all 256 and from JSON's alphabet
        n = rng.randrange(0, 400)
        if rng.random() < 0.5:
            bad.append(bytes(rng.getrandbits(8) for _ in range(n)))
        else:
            bad.append(bytes(rng.choice(_JSONISH) for _ in range(n)))
    for _ in range(1500):  # truncations and byte edits of valid events
        raw = _raw(_event(rng))
        for _ in range(rng.randint(1, 3)):
            i = rng.randrange(len(raw))
            what = rng.random()
            if what < 0.25:
                raw = raw[:i]
            elif what < 0.5:
                raw = raw[:i] + raw[i + 1:]
            elif what < 0.6:
                raw = raw[:i] + bytes([raw[i] ^ (1 << rng.randrange(8))]) + raw[i + 1:]
            else:
                raw = raw[:i] + rng.choice(_BYTE_EDITS) + raw[i:]
            if not raw:
                break
        bad.append(raw)
    for depth in (10, 500, 999, 1000, 1020, 1023, 1024, 1025, 5000, 100_000):  # deep nesting at several places
        for field in _FIELDS:
            bad.append(_with(rng, field, _deep(depth, rng.choice(["list", "object"]))))
        bad.append(_with(rng, b"classroom_ids", b"[" + _deep(depth) + b"," + _deep(depth) + b"]"))
        bad.append(_deep(depth))
    for field in _FIELDS:  # odd numbers and strings everywhere
        bad += [_with(rng, field, v) for v in _NUMBERS + _STRINGS]
    bad += [_with(rng, b"submitted_at", ts) for ts in _TIMESTAMPS]
    bad += [_dup(rng) for _ in range(150)] + [_dup_inside(rng) for _ in range(150)]
    rng.shuffle(bad)
    return bad


def _mixed(bad: list[bytes | None], rng: random.Random) -> list[bytes | None]:
    """The bad records, each between valid ones."""
    out: list[bytes | None] = []
    for value in bad:
        out += [_raw(_event(rng)) for _ in range(rng.randint(0, 2))]
        out.append(value)
    return out + [_raw(_event(rng))]


def test_random_and_mutated_bytes_never_crash_and_agree_with_the_reference():
    rng = random.Random(20261204)
    values = _mixed(_corpus(11), rng)
    valid = [i for i, v in enumerate(values) if _verdict(v) == "stored"]
    run, offsets, stored, rejected = _check_against_reference(values)
    assert all(offsets[i] in stored for i in valid)
    reasons = {r.reason for r in run.rejects}
    assert {"invalid_json", "schema_violation", "invalid_timestamp"} <= reasons, reasons
    assert len(rejected) > 5000 and len(stored) > 3000, (len(rejected), len(stored))


def test_packed_decode_of_the_corpus_equals_the_direct_one():
    values = _mixed(_corpus(12)[:1500], random.Random(5))
    offsets = list(range(100, 100 + len(values)))
    direct = decode_values(offsets, values, 1, CATALOG, PSEUDO)
    packed = decode_packed(PackedRecords.pack(offsets, values), 1, CATALOG, PSEUDO)
    assert [(r.offset, r.reason, r.detail) for r in packed.rejects] == [(r.offset, r.reason, r.detail)
                                                                        for r in direct.rejects]
    assert {k: t.drop_columns(["ingested_at"]) for k, t in packed.tables.items()} == \
        {k: t.drop_columns(["ingested_at"]) for k, t in direct.tables.items()}


# --------------------------------------------------------------------------- the last line of defence


def test_an_unexpected_error_in_a_check_rejects_that_record_only(monkeypatch):
    rng = random.Random(8)
    values = [_raw(_event(rng)) for _ in range(9)]
    values[4] = _with(rng, b"demographics.grade", b"3.0")  # the slow path
    values[6] = values[6].replace(b'"fall"', b'"winter"').replace(b'"spring"', b'"winter"')
    real_fast, real_ref = decode.fast_check, decode.check_submission_ex

    def fast(raw, catalog):
        if raw is values[6]:
            raise KeyError("boom in the fast path")
        return real_fast(raw, catalog)

    def ref(raw, catalog):
        if raw is values[4]:
            raise RecursionError("boom in the reference")
        return real_ref(raw, catalog)

    monkeypatch.setattr(decode, "fast_check", fast)
    monkeypatch.setattr(decode, "check_submission_ex", ref)
    run, offsets, stored, rejected = _decode(values)
    assert sorted(rejected) == [offsets[4], offsets[6]] and len(stored) == 7
    assert rejected[offsets[4]].reason == rejected[offsets[6]].reason == "schema_violation"
    assert rejected[offsets[4]].detail.startswith("unprocessable: RecursionError while checking it: boom")
    assert "KeyError" in rejected[offsets[6]].detail


def test_memory_error_is_not_a_verdict_on_the_record(monkeypatch):
    def fast(raw, catalog):
        raise MemoryError

    monkeypatch.setattr(decode, "fast_check", fast)
    with pytest.raises(MemoryError):
        decode_values([1], [_raw(_event(random.Random(1)))], 0, CATALOG, PSEUDO)


def test_records_arrow_refuses_are_isolated_and_the_rest_kept(monkeypatch):
    """Were the contract widened again (years 1000..9999), the conversion's refusals become rejects."""
    monkeypatch.setattr(contract, "SUBMITTED_AT_YEARS", (1000, 9999))
    rng = random.Random(9)
    values = [_raw(_event(rng, term="fall", instrument="teacher",
                          instrument_version=CATALOG.latest("teacher").version,
                          responses={"t_lf01": 1})) for _ in range(200)]
    bad_at = sorted(rng.sample(range(200), 7))
    for i in bad_at:
        values[i] = _with(rng, b"submitted_at", rng.choice([b'"9999-12-31T23:59:59Z"', b'"1600-01-01T00:00:00Z"']))
    assert all(_verdict(values[i]) == "stored" for i in bad_at)  # the widened contract lets them through
    values += [_with(rng, b"submitted_at", b'"2262-05-01T00:00:00Z"'), b"{"]
    run, offsets, stored, rejected = _decode(values)
    refused = [i for i, o in enumerate(offsets) if o in rejected and rejected[o].detail.startswith("unprocessable:")]
    assert refused == [*bad_at, len(values) - 2]
    for i in refused:
        r = rejected[offsets[i]]
        assert r.reason == "schema_violation" and "ArrowInvalid" in r.detail and "raw lake" in r.detail
    assert rejected[offsets[-1]].reason == "invalid_json"
    kept = [i for i in range(len(values)) if offsets[i] in stored]
    assert len(kept) == len(values) - len(refused) - 1
    # the good rows keep their order within their table
    for table in run.tables.values():
        offs = table.column("kafka_offset").to_pylist()
        assert offs == sorted(offs)


# --------------------------------------------------------------------------- through the real broker


def test_poison_pills_through_kafka_never_stop_the_stream(platform):
    """Every shape above and a sample of the corpus, each between valid submissions, on one partition
    (the worst case: one bad record used to block everything behind it for good), through Apache Kafka
    and the ingestion: the valid ones all land, the bad ones are all dead-lettered with the reference's
    reason, and the records after the last bad one land too."""
    from kafka import KafkaConsumer, TopicPartition
    from support.lake import landed_ids
    from support.streams import produce

    from ingestion.consumer import run_ingestion

    rng = random.Random(7)
    bad = [_with(rng, field, value) for _, field, value, _ in SHAPES]
    bad += [v for v in _corpus(23) if v is None or len(v) < 900_000][:700]  # under the broker's 1 MB message size
    values = _mixed(bad, rng)
    produce(platform, [(b"one-partition", v) for v in values])
    stats = run_ingestion(platform, "bounded", workers=1, progress=False)

    verdicts = [_verdict(v) for v in values]
    stored = {json.loads(v)["submission_id"] for v, verdict in zip(values, verdicts, strict=True)
              if verdict == "stored"}
    assert set(landed_ids(platform.data_dir)) == stored
    assert stats.rejected == sum(verdict != "stored" for verdict in verdicts) > 600
    consumer = KafkaConsumer(bootstrap_servers=platform.bootstrap_servers, enable_auto_commit=False,
                             auto_offset_reset="earliest", consumer_timeout_ms=5000)
    consumer.assign([TopicPartition(platform.dlq_topic, p) for p in consumer.partitions_for_topic(platform.dlq_topic)])
    dead = list(consumer)
    consumer.close()
    by_offset = {int(dict(r.headers)["leap.dlq.source.offset"]): dict(r.headers)["leap.dlq.reason"].decode()
                 for r in dead}
    expected = {i: verdict for i, verdict in enumerate(verdicts) if verdict != "stored"}  # one partition: offset = index
    assert by_offset == expected
