"""Turn a run of Kafka records into Arrow tables per lake partition, plus rejects.

Pure functions, no I/O: the consumer runs them in-process or in a worker process.

Each record is checked in Python (:func:`leap.events.check_submission_ex`); the valid
records' original JSON bytes are then parsed again in bulk by Arrow's C++ JSON reader with
an explicit schema, which is several times faster than building Arrow arrays from Python
objects. The raw ``respondent_id`` never reaches a table: it is replaced by its keyed
pseudonym (``respondent_key``) here, before anything is written.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from leap.events import Pseudonymizer, Rejected, check_submission_ex
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


def decode_run(
    records: list[Record], kafka_partition: int, catalog: Catalog, pseudonymizer: Pseudonymizer
) -> DecodedRun:
    """Validate and convert ``records`` (in offset order) of one Kafka partition."""
    groups: dict[PartitionKey, _Group] = {}
    rejects: list[Reject] = []
    key_of = pseudonymizer.respondent_key
    for offset, key, value in records:
        try:
            if value is None:
                raise Rejected("invalid_json", "record has no value (tombstone)")
            event, plain = check_submission_ex(value, catalog)
        except Rejected as rej:
            rejects.append(Reject(offset, key, value, rej.reason, rej.detail))
            continue
        g = groups.setdefault((event["instrument"], event["school_year"], event["term"]), _Group())
        g.lines.append(value if plain and b"\n" not in value and b"\r" not in value else _normalized(event))
        g.keys.append(key_of(event["school_id"], event["respondent_id"]))
        g.offsets.append(offset)
    run = DecodedRun(first_offset=records[0][0], last_offset=records[-1][0], rejects=rejects)
    now = datetime.now(UTC)
    for pkey, g in groups.items():
        run.tables[pkey] = _to_table(g, kafka_partition, now, tuple(catalog.item_columns(pkey[0])))
    return run


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
    fields += [("submitted_at", pa.string()), ("demographics", demo),
               ("responses", pa.struct([(c, pa.int8()) for c in item_columns]))]
    return pa.schema(fields)


def _to_table(g: _Group, kafka_partition: int, now: datetime, item_columns: tuple[str, ...]) -> pa.Table:
    from leap.instrument import raw_schema

    opts = pj.ParseOptions(explicit_schema=_json_schema(item_columns), unexpected_field_behavior="ignore")
    parsed = pj.read_json(io.BytesIO(b"\n".join(g.lines)), parse_options=opts,
                          read_options=pj.ReadOptions(block_size=1 << 20))
    n = parsed.num_rows
    cols: dict[str, pa.Array] = {c: parsed.column(c) for c in _FROM_EVENT}
    ts = pc.cast(parsed.column("submitted_at"), pa.timestamp("ns", tz="UTC"))
    cols["submitted_at"] = pc.cast(ts, pa.timestamp("us", tz="UTC"), safe=False)
    demo = parsed.column("demographics").combine_chunks()
    for name in _DEMOGRAPHICS:
        cols[name] = pc.struct_field(demo, name)
    responses = parsed.column("responses").combine_chunks()
    for name in item_columns:
        cols[name] = pc.struct_field(responses, name)
    cols["respondent_key"] = pa.array(g.keys, pa.string())
    cols["kafka_partition"] = pa.array([kafka_partition] * n, pa.int32())
    cols["kafka_offset"] = pa.array(g.offsets, pa.int64())
    cols["ingested_at"] = pa.array([now] * n, pa.timestamp("us", tz="UTC"))
    schema = raw_schema(list(item_columns))
    return pa.Table.from_arrays([cols[f.name] for f in schema], schema=schema)
