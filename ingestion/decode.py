"""Turn a run of Kafka records into Arrow tables per lake partition, plus rejects.

Pure functions, no I/O: the consumer runs them in-process or in a worker process.

Each record is checked by :func:`ingestion.fastpath.fast_check` (a strict typed decode) or, when that
does not accept it, by :func:`ingestion.contract.check_submission_ex`, which decides; the valid
records' original JSON bytes are then parsed again in bulk by Arrow's C++ JSON reader with
an explicit schema, which is several times faster than building Arrow arrays from Python
objects. The raw ``respondent_id`` never reaches a table: it is replaced by its keyed
pseudonym (``respondent_key``) here, before anything is written.
"""

from __future__ import annotations

import hashlib
import io
from array import array
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from itertools import accumulate, chain

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from ingestion.contract import Rejected, check_submission_ex
from ingestion.fastpath import fast_check
from ingestion.pseudonym import Pseudonymizer
from leap.instrument import Catalog

PartitionKey = tuple[str, str, str]  # (instrument, school_year, term)

# A record as the consumer hands it over: (offset, key, value).
Record = tuple[int, bytes | None, bytes | None]

_DEMOGRAPHICS = ("grade", "gender", "race_ethnicity", "parent_education")
_FROM_EVENT = ("submission_id", "instrument", "instrument_version", "school_id", "school_year", "term",
               "grade_band", "sample", "region", "urbanicity", "weight")


@dataclass
class Reject:
    offset: int
    key: bytes | None
    value: bytes | None
    reason: str
    detail: str
    index: int = -1  # position in the decoded run (to find the key when it was not sent along)


@dataclass
class DecodedRun:
    """Result of decoding consecutive records of one Kafka partition."""

    first_offset: int
    last_offset: int
    tables: dict[PartitionKey, pa.Table] = field(default_factory=dict)
    rejects: list[Reject] = field(default_factory=list)

    @property
    def n_valid(self) -> int:
        return sum(t.num_rows for t in self.tables.values())


@dataclass
class _Group:
    lines: list[bytes] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    offsets: list[int] = field(default_factory=list)


@dataclass
class PackedRecords:
    """Records of one partition as a few flat buffers: cheap to pickle to a decode worker.

    ``values`` is every value concatenated; ``ends`` (int64) the end of each in ``values``;
    ``offsets`` (int64) the Kafka offsets; ``tombstones`` the indices of records without a value.
    Keys stay in the fetching process (only the dead-letter writer needs them).
    """

    offsets: bytes
    values: bytes
    ends: bytes
    tombstones: list[int] = field(default_factory=list)

    @classmethod
    def pack(cls, offsets: list[int], values: list[bytes | None]) -> PackedRecords:
        tombstones = [i for i, v in enumerate(values) if v is None] if None in values else []
        if tombstones:
            values = [b"" if v is None else v for v in values]
        ends = array("q", accumulate(map(len, values)))
        return cls(array("q", offsets).tobytes(), b"".join(values), ends.tobytes(), tombstones)

    def unpack(self) -> tuple[list[int], list[bytes | None]]:
        offsets = array("q")
        offsets.frombytes(self.offsets)
        ends = array("q")
        ends.frombytes(self.ends)
        blob = self.values
        values: list[bytes | None] = [blob[a:b] for a, b in zip(chain((0,), ends), ends, strict=False)]
        for i in self.tombstones:
            values[i] = None
        return offsets.tolist(), values


def decode_packed(packed: PackedRecords, kafka_partition: int, catalog: Catalog,
                  pseudonymizer: Pseudonymizer) -> DecodedRun:
    """:func:`decode_run` for packed records; rejects come back without their keys (``key=None``)."""
    offsets, values = packed.unpack()
    return decode_values(offsets, values, kafka_partition, catalog, pseudonymizer)


def decode_run(
    records: list[Record], kafka_partition: int, catalog: Catalog, pseudonymizer: Pseudonymizer
) -> DecodedRun:
    """Validate and convert ``records`` (in offset order) of one Kafka partition."""
    run = decode_values([r[0] for r in records], [r[2] for r in records], kafka_partition, catalog, pseudonymizer)
    for rej in run.rejects:
        rej.key = records[rej.index][1]
    return run


def decode_values(offsets: list[int], values: list[bytes | None], kafka_partition: int, catalog: Catalog,
                  pseudonymizer: Pseudonymizer) -> DecodedRun:
    """Validate and convert the values of consecutive records of one partition (in offset order).

    Most records take :func:`ingestion.fastpath.fast_check` (one strict typed decode); anything it
    does not accept goes through :func:`ingestion.contract.check_submission_ex`, which decides.
    """
    groups: dict[PartitionKey, _Group] = {}
    rejects: list[Reject] = []
    key_of = _keyer(pseudonymizer)
    for i, value in enumerate(values):
        e = fast_check(value, catalog) if value is not None and b"\n" not in value and b"\r" not in value else None
        if e is not None:
            g = groups.get((e.instrument, e.school_year, e.term))
            if g is None:
                g = groups[(e.instrument, e.school_year, e.term)] = _Group()
            g.lines.append(value)
            g.keys.append(key_of(e.school_id, e.respondent_id))
            g.offsets.append(offsets[i])
            continue
        try:
            if value is None:
                raise Rejected("invalid_json", "record has no value (tombstone)")
            event, plain = check_submission_ex(value, catalog)
        except Rejected as rej:
            rejects.append(Reject(offsets[i], None, value, rej.reason, rej.detail, i))
            continue
        g = groups.setdefault((event["instrument"], event["school_year"], event["term"]), _Group())
        g.lines.append(value if plain and b"\n" not in value and b"\r" not in value else _normalized(event))
        g.keys.append(key_of(event["school_id"], event["respondent_id"]))
        g.offsets.append(offsets[i])
    run = DecodedRun(first_offset=offsets[0], last_offset=offsets[-1], rejects=rejects)
    now = datetime.now(UTC)
    for pkey, g in groups.items():
        run.tables[pkey] = _to_table(g, kafka_partition, now, tuple(catalog.item_columns(pkey[0])))
    return run


@lru_cache(maxsize=4)
def _keyer(pseudonymizer: Pseudonymizer):
    """``pseudonymizer.respondent_key`` with the HMAC key schedule done once (RFC 2104).

    HMAC(k, m) = H((k ^ opad) || H((k ^ ipad) || m)); the two padded-key hash states are
    precomputed and copied per call, half the cost of ``hmac.digest``. Checked against
    the reference on a sample before it is used.
    """
    key = pseudonymizer.key
    if len(key) > 64:  # the SHA-256 block size
        key = hashlib.sha256(key).digest()
    key = key.ljust(64, b"\0")
    inner0 = hashlib.sha256(bytes(b ^ 0x36 for b in key))
    outer0 = hashlib.sha256(bytes(b ^ 0x5C for b in key))

    def respondent_key(school_id: str, respondent_id: str) -> str:
        inner = inner0.copy()
        inner.update(f"{school_id}\x1f{respondent_id}".encode())
        outer = outer0.copy()
        outer.update(inner.digest())
        return outer.hexdigest()[:32]

    for sample in (("SCH-1", "T-1"), ("", "\u00e9" * 100)):
        if respondent_key(*sample) != pseudonymizer.respondent_key(*sample):
            return pseudonymizer.respondent_key
    return respondent_key


def _normalized(event: dict) -> bytes:
    """One-line JSON of a validated event whose bytes the bulk reader cannot take as they are."""
    out = dict(event)
    out["submitted_at"] = event["submitted_at"].isoformat()
    out["responses"] = {k: (None if v is None else int(v)) for k, v in event["responses"].items()}
    return orjson.dumps(out)


@lru_cache(maxsize=16)
def _json_schema(item_columns: tuple[str, ...]) -> pa.Schema:
    demo = pa.struct([("grade", pa.int8()), ("gender", pa.string()), ("race_ethnicity", pa.string()),
                      ("parent_education", pa.string())])
    fields = [(c, pa.float64() if c == "weight" else pa.string()) for c in _FROM_EVENT]
    fields += [("submitted_at", pa.string()), ("demographics", demo), ("classroom_ids", pa.list_(pa.string())),
               ("responses", pa.struct([(c, pa.int8()) for c in item_columns]))]
    return pa.schema(fields)


def _to_table(g: _Group, kafka_partition: int, now: datetime, item_columns: tuple[str, ...]) -> pa.Table:
    from leap.instrument import raw_schema

    opts = pj.ParseOptions(explicit_schema=_json_schema(item_columns), unexpected_field_behavior="ignore")
    read = pj.ReadOptions(block_size=1 << 20)
    try:
        parsed = pj.read_json(io.BytesIO(b"\n".join(g.lines)), parse_options=opts, read_options=read)
    except pa.ArrowInvalid:
        # Valid JSON Arrow's reader refuses, e.g. a key given twice (the validators, like orjson,
        # take the last one): re-serialize every line, which keeps exactly what was validated.
        lines = [orjson.dumps(orjson.loads(line)) for line in g.lines]
        parsed = pj.read_json(io.BytesIO(b"\n".join(lines)), parse_options=opts, read_options=read)
    n = parsed.num_rows
    cols: dict[str, pa.Array] = {c: parsed.column(c) for c in _FROM_EVENT}
    ts = pc.cast(parsed.column("submitted_at"), pa.timestamp("ns", tz="UTC"))
    cols["submitted_at"] = pc.cast(ts, pa.timestamp("us", tz="UTC"), safe=False)
    demo = parsed.column("demographics").combine_chunks()
    for name in _DEMOGRAPHICS:
        cols[name] = pc.struct_field(demo, name)
    cols["classroom_ids"] = parsed.column("classroom_ids")  # absent or null in the event: null
    responses = parsed.column("responses").combine_chunks()
    for name in item_columns:
        cols[name] = pc.struct_field(responses, name)
    cols["respondent_key"] = pa.array(g.keys, pa.string())
    cols["kafka_partition"] = pa.array([kafka_partition] * n, pa.int32())
    cols["kafka_offset"] = pa.array(g.offsets, pa.int64())
    cols["ingested_at"] = pa.array([now] * n, pa.timestamp("us", tz="UTC"))
    schema = raw_schema(list(item_columns))
    return pa.Table.from_arrays([cols[f.name] for f in schema], schema=schema)
