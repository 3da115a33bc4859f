"""Turn a run of Kafka records into Arrow tables per lake partition, plus rejects.

Pure functions, no I/O: the consumer runs them in-process or in a worker process.

Each record is checked by :func:`ingestion.fastpath.fast_check` (a strict typed decode) or, when that
does not accept it, by :func:`ingestion.contract.check_submission_ex`, which decides; the valid
records' original JSON bytes are then parsed again in bulk by Arrow's C++ JSON reader with
an explicit schema, which is several times faster than building Arrow arrays from Python
objects. The raw ``respondent_id`` never reaches a table: it is replaced by its keyed
pseudonym (``respondent_key``) here, before anything is written.

Whatever its bytes, every record ends as a row of one table or as a :class:`Reject` with a reason of
:data:`ingestion.contract.REASONS`: :func:`decode_values` raises for no record. As a last line of
defence behind the contract, an unexpected error while checking a record, or a record the bulk Arrow
conversion refuses (found by bisecting its group, so the other rows are kept), is rejected with
``schema_violation`` and a detail beginning ``unprocessable:`` that names the error; either is a gap in
the contract to close. Only MemoryError is let through: it says nothing about the record.
"""

from __future__ import annotations

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
               "grade_band", "sample", "region", "urbanicity", "weight", "duration_seconds")


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
    key_of = pseudonymizer.respondent_key  # HMAC with the key schedule precomputed
    for i, value in enumerate(values):
        try:  # free in CPython 3.11 unless something raises
            e = fast_check(value, catalog) if value is not None and b"\n" not in value and b"\r" not in value else None
            if e is not None:
                pkey, line, rkey = (e.instrument, e.school_year, e.term), value, key_of(e.school_id, e.respondent_id)
            else:
                if value is None:
                    raise Rejected("invalid_json", "record has no value (tombstone)")
                event, plain = check_submission_ex(value, catalog)
                pkey = (event["instrument"], event["school_year"], event["term"])
                line = value if plain and b"\n" not in value and b"\r" not in value else _normalized(event)
                rkey = key_of(event["school_id"], event["respondent_id"])
        except Rejected as rej:
            rejects.append(Reject(offsets[i], None, value, rej.reason, rej.detail, i))
            continue
        except MemoryError:
            raise
        except Exception as exc:  # the last line of defence: a record never stops the ingestion
            rejects.append(Reject(offsets[i], None, value, UNPROCESSABLE, _unprocessable("checking it", exc), i))
            continue
        g = groups.get(pkey)
        if g is None:
            g = groups[pkey] = _Group()
        g.lines.append(line)
        g.keys.append(rkey)
        g.offsets.append(offsets[i])
    run = DecodedRun(first_offset=offsets[0], last_offset=offsets[-1], rejects=rejects)
    now = datetime.now(UTC)
    for pkey, g in groups.items():
        item_columns = tuple(catalog.item_columns(pkey[0]))
        try:
            run.tables[pkey] = _to_table(g, kafka_partition, now, item_columns)
        except MemoryError:
            raise
        except Exception:  # keep the good rows, reject only the records Arrow refuses
            table, refused = _to_table_isolating(g, kafka_partition, now, item_columns)
            if table is not None:
                run.tables[pkey] = table
            _reject_refused(run, refused, offsets, values)
    return run


def _reject_refused(run: DecodedRun, refused: list[tuple[int, Exception]], offsets: list[int],
                    values: list[bytes | None]) -> None:
    index = {o: i for i, o in enumerate(offsets)}
    for offset, exc in refused:
        i = index[offset]
        detail = _unprocessable("converting it to the raw lake schema", exc)
        run.rejects.append(Reject(offset, None, values[i], UNPROCESSABLE, detail, i))
    run.rejects.sort(key=lambda r: r.index)


# The reason of the last line of defence: no code of its own (ingestion.contract.REASONS are the
# contract's verdicts, one simulator generator each); the detail starts with "unprocessable:".
UNPROCESSABLE = "schema_violation"


def _unprocessable(doing: str, exc: BaseException) -> str:
    return f"unprocessable: {type(exc).__name__} while {doing}: {str(exc)[:240]}"


def _to_table_isolating(g: _Group, kafka_partition: int, now: datetime,
                        item_columns: tuple[str, ...]) -> tuple[pa.Table | None, list[tuple[int, Exception]]]:
    """:func:`_to_table` of the lines it can convert, bisecting around those it cannot.

    Returns the table of the convertible lines in their order (None if there are none) and
    (offset, error) for each line it refused on its own. k bad lines among n cost O(k log n) conversions.
    """
    parts: list[pa.Table] = []
    refused: list[tuple[int, Exception]] = []

    def convert(lo: int, hi: int) -> None:
        sub = _Group(g.lines[lo:hi], g.keys[lo:hi], g.offsets[lo:hi])
        try:
            parts.append(_to_table(sub, kafka_partition, now, item_columns))
        except MemoryError:
            raise
        except Exception as exc:
            if hi - lo == 1:
                refused.append((g.offsets[lo], exc))
                return
            mid = (lo + hi) // 2
            convert(lo, mid)
            convert(mid, hi)

    convert(0, len(g.lines))
    return (pa.concat_tables(parts) if parts else None), refused


def _normalized(event: dict) -> bytes:
    """One-line JSON of a validated event whose bytes the bulk reader cannot take as they are."""
    out = dict(event)
    out["submitted_at"] = event["submitted_at"].isoformat()
    out["responses"] = {k: (None if v is None else int(v)) for k, v in event["responses"].items()}
    demo = event.get("demographics")
    if demo and demo.get("grade") is not None:  # the schema's "integer" takes 3.0; the int8 column does not
        out["demographics"] = demo | {"grade": int(demo["grade"])}
    return orjson.dumps(out)


@lru_cache(maxsize=16)
def _json_schema(item_columns: tuple[str, ...]) -> pa.Schema:
    demo = pa.struct([("grade", pa.int8()), ("gender", pa.string()), ("race_ethnicity", pa.string()),
                      ("parent_education", pa.string())])
    fields = [(c, pa.float64() if c in ("weight", "duration_seconds") else pa.string()) for c in _FROM_EVENT]
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
