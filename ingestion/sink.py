"""The lake sink: durable, exactly-once micro-batches of one Kafka partition into Parquet.

Commit protocol per flush of Kafka partition *p* covering offsets [start, end]
(the Kafka Connect S3/HDFS-sink guarantee, with a write-ahead marker):

1. dead-letter the rejected records (produce + flush: at-least-once, each carries its source
   offset, so a consumer of the DLQ can drop repeats);
2. write one Parquet file per lake partition (instrument/school_year/term) into a staging
   directory of *p*, fsync;
3. under the submission registry's lock (:mod:`ingestion.registry`): drop the ids the lake
   already holds from any partition (re-staging the files in the rare case there are some),
   write the batch's registry segment, then the **marker**
   ``_ingest_log/<topic>/cluster=<tag>/partition=<p>/<start>-<end>.json`` atomically (temp file,
   fsync, rename, fsync dir). The marker is the commit point;
4. rename the staged files to their final names
   ``raw/instrument=…/school_year=…/term=…/<topic>+<tag>+<p>+<start>+<end>.parquet``;
5. the consumer commits offset end+1 to Kafka (for lag monitoring only).

On assignment of *p* the sink recovers from the markers, not from Kafka's committed offset:
staged files named in a marker are rolled forward (step 4 again), staged files named in no
marker are deleted, consumption resumes at the highest marker end + 1, and a committed batch
without its registry segment (a lake from before the registry) is registered. A crash at any
point therefore neither loses nor duplicates a submission, and a resubmitted ``submission_id``
is stored once whatever partition it arrives on. A per-partition ``flock`` keeps two processes
from writing the same partition during a rebalance.

Recovery reads only the markers it needs (those of staged files and of batches missing from the
registry): the partition's resume offset is in the markers' file names.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from ingestion.decode import DecodedRun, PartitionKey, Reject
from ingestion.registry import BatchId, SubmissionRegistry, digests, segment_name
from leap.errors import LeapError
from leap.fsutil import FileLock, fsync_path, write_atomic
from leap.layout import Layout
from leap.locks import partition_lock

log = logging.getLogger(__name__)

OFFSET_WIDTH = 12


def cluster_tag(cluster_id: str | None) -> str:
    """Short stable tag of a Kafka cluster id: offsets are only meaningful within one cluster's log."""
    return hashlib.sha256((cluster_id or "unknown").encode()).hexdigest()[:8]


def data_file_name(topic: str, partition: int, start: int, end: int, tag: str = "") -> str:
    """``<topic>+<cluster tag>+<partition>+<first offset>+<last offset>.parquet``."""
    prefix = f"{topic}+{tag}" if tag else topic
    return f"{prefix}+{partition:03d}+{start:0{OFFSET_WIDTH}d}+{end:0{OFFSET_WIDTH}d}.parquet"


def partition_dir(raw_dir: Path, pkey: PartitionKey) -> Path:
    instrument, school_year, term = pkey
    return raw_dir / f"instrument={instrument}" / f"school_year={school_year}" / f"term={term}"


def _read_markers(ldir: Path) -> list[dict]:
    if not ldir.exists():
        return []
    return [json.loads(p.read_bytes()) for p in sorted(ldir.glob("*.json"))]


def marker_name(start: int, end: int) -> str:
    return f"{start:020d}-{end:020d}.json"


def _marker_ranges(ldir: Path) -> list[tuple[int, int]]:
    """(first, last) offset of every committed batch, from the marker file names alone."""
    if not ldir.exists():
        return []
    out = []
    for p in ldir.glob("*.json"):
        a, _, b = p.stem.partition("-")
        out.append((int(a), int(b)))
    return sorted(out)


def _staged_range(name: str) -> tuple[int, int] | None:
    """(first, last) offset in a staged file name ``<pkey>~<topic>+<tag>+<p>+<first>+<last>.parquet``."""
    parts = name.removesuffix(".parquet").split("+")
    try:
        return int(parts[-2]), int(parts[-1])
    except (IndexError, ValueError):
        return None


@dataclass
class _PartitionState:
    partition: int
    lock: FileLock
    next_offset: int | None
    start: int | None = None
    end: int | None = None
    tables: dict[PartitionKey, list[pa.Table]] = field(default_factory=dict)
    rows: int = 0
    rejects: list[Reject] = field(default_factory=list)
    opened_at: float = 0.0

    def reset(self) -> None:
        self.start = self.end = None
        self.tables = {}
        self.rows = 0
        self.rejects = []


@dataclass
class _Batch:
    """A detached buffer of one partition, to be written with the commit protocol."""

    partition: int
    start: int
    end: int
    tables: dict[PartitionKey, list[pa.Table]]
    rejects: list[Reject]
    log_dir: Path


@dataclass
class FlushResult:
    partition: int
    start: int
    end: int
    rows: int
    files: int
    rejected: int
    duplicates: int


class LakeSink:
    """Buffers decoded runs per Kafka partition and writes them with the commit protocol above."""

    def __init__(self, layout: Layout, topic: str, dlq, *, cluster_id: str | None = None,
                 lock_timeout: float = 60.0):
        self.lake_dir = layout.lake
        self.raw_dir = layout.raw
        self.topic_root = layout.ingest_log_of(topic)
        self.topic = topic
        self.cluster_id = cluster_id
        self.tag = cluster_tag(cluster_id)
        self.dlq = dlq  # DeadLetterWriter or None
        self.lock_timeout = lock_timeout
        self.states: dict[int, _PartitionState] = {}
        self.registry = SubmissionRegistry(self.topic_root / "ids", self._committed)
        try:
            self.raw_dir.mkdir(parents=True, exist_ok=True)
            self.log_root.mkdir(parents=True, exist_ok=True)
            # one probe name per process: two consumers starting together must not race on it
            probe = self.log_root / f".write-probe-{os.getpid()}-{uuid.uuid4().hex[:8]}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise LeapError(f"the lake path {layout.lake} is not writable: {exc.strerror}",
                            hint="set LEAP_DATA_DIR to a writable directory", exit_code=4) from None

    def switch_cluster(self, cluster_id: str) -> None:
        """Continue on another cluster's log (no partition may be held)."""
        assert not self.states, "release every partition before switching cluster"
        self.cluster_id, self.tag = cluster_id, cluster_tag(cluster_id)
        self.log_root.mkdir(parents=True, exist_ok=True)

    @property
    def log_root(self) -> Path:
        """Commit log of this cluster: a recreated topic (new cluster) starts a new log at offset 0."""
        return self.topic_root / f"cluster={self.tag}"

    def log_dir(self, partition: int, tag: str | None = None) -> Path:
        return self.topic_root / f"cluster={tag or self.tag}" / f"partition={partition:03d}"

    def _committed(self, batch: BatchId) -> bool:
        tag, partition, start, end = batch
        return (self.log_dir(partition, tag) / marker_name(start, end)).exists()

    # ------------------------------------------------------------------ assignment and recovery

    def assign(self, partition: int) -> int | None:
        """Take ownership of ``partition``: lock, recover, return the offset to resume from."""
        if partition in self.states:
            return self.states[partition].next_offset
        ldir = self.log_dir(partition)
        (ldir / "staging").mkdir(parents=True, exist_ok=True)
        lock = partition_lock(ldir / ".lock", self.lock_timeout).acquire()
        next_offset = self._recover(partition)
        self.states[partition] = _PartitionState(partition, lock, next_offset)
        log.info("partition %d: resuming at offset %s", partition,
                 next_offset if next_offset is not None else "earliest")
        return next_offset

    def release(self, partition: int) -> None:
        state = self.states.pop(partition, None)
        if state is not None:
            state.lock.release()

    def markers(self, partition: int) -> list[dict]:
        return _read_markers(self.log_dir(partition))

    def _recover(self, partition: int) -> int | None:
        """Recover every cluster's log of ``partition``; the resume offset in the current cluster's log.

        Other clusters' logs are those of an earlier broker (a recreated topic, Tansu restarts):
        a crash just before the reset must not leave their committed files in staging either.
        """
        for ldir in sorted(self.topic_root.glob(f"cluster=*/partition={partition:03d}")):
            self._recover_log(ldir, owned=ldir == self.log_dir(partition))
        self._register_missing(partition)
        ranges = _marker_ranges(self.log_dir(partition))
        return ranges[-1][1] + 1 if ranges else None

    def _recover_log(self, ldir: Path, owned: bool) -> None:
        """Roll committed staged files forward; in the log this process owns (``owned``: it holds the
        partition lock), delete the uncommitted ones too."""
        committed = set(_marker_ranges(ldir))
        staging = ldir / "staging"
        for staged in sorted(staging.iterdir()) if staging.exists() else []:
            rng = _staged_range(staged.name)
            if rng in committed:
                marker = json.loads((ldir / marker_name(*rng)).read_bytes())
                for f in marker["files"]:
                    if f["staged"] == staged.name:
                        self._roll_forward(staged, self.lake_dir / f["path"])
            elif owned:
                log.info("%s: removing uncommitted staged file %s", ldir.name, staged.name)
                staged.unlink()
        for tmp in ldir.glob(".*.tmp") if owned else ():
            tmp.unlink()

    def _register_missing(self, partition: int) -> None:
        """Register committed batches of ``partition`` that have no registry segment (older lakes)."""
        with self.registry.claiming() as reg:
            missing = []
            for ldir in self.topic_root.glob(f"cluster=*/partition={partition:03d}"):
                tag = ldir.parent.name.removeprefix("cluster=")
                for start, end in _marker_ranges(ldir):
                    if segment_name((tag, partition, start, end)) not in reg.loaded:
                        missing.append(((tag, partition, start, end), ldir / marker_name(start, end)))
            for batch, path in missing:
                ids = json.loads(path.read_bytes())["submission_ids"]
                if ids:
                    reg.register(batch, digests(ids))
        if missing:
            log.info("partition %d: registered %d committed batches in the submission registry",
                     partition, len(missing))

    @staticmethod
    def _roll_forward(staged: Path, final: Path, recovering: bool = True) -> None:
        """Move a committed staged file to its final name (no-op when already there)."""
        if final.exists():
            return
        if staged.exists():
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staged, final)
            fsync_path(final.parent)
            if recovering:
                log.info("rolled forward committed file %s", final)
        else:
            log.warning("committed file %s is gone (removed after commit?)", final)

    # ------------------------------------------------------------------ buffering

    def add(self, partition: int, run: DecodedRun, arrived_at: float | None = None) -> None:
        """Buffer a decoded run; ``arrived_at`` (monotonic) is when its records were polled: a batch's age,
        which bounds its latency, counts from its first record's arrival, not from the end of its decode."""
        state = self.states[partition]
        if state.next_offset is not None and run.last_offset < state.next_offset:
            return  # already durable (re-delivered after a rebalance)
        if state.start is None:
            state.start = run.first_offset
            state.opened_at = arrived_at if arrived_at is not None else time.monotonic()
        state.end = run.last_offset
        state.rejects.extend(run.rejects)
        for pkey, table in run.tables.items():
            if table.num_rows:
                state.tables.setdefault(pkey, []).append(table)
                state.rows += table.num_rows

    def oldest_open(self) -> float | None:
        """When the oldest buffered batch's first record arrived (monotonic); None when nothing is buffered."""
        opened = [s.opened_at for s in self.states.values() if s.start is not None]
        return min(opened) if opened else None

    def due(self, flush_records: int, flush_seconds: float) -> list[int]:
        now = time.monotonic()
        return [
            p for p, s in self.states.items()
            if s.start is not None and (s.end - s.start + 1 >= flush_records or now - s.opened_at >= flush_seconds)
        ]

    # ------------------------------------------------------------------ flush

    def flush(self, partition: int) -> FlushResult | None:
        """Write the partition's buffer with the commit protocol (steps 1-4), now."""
        batch = self.detach(partition)
        return None if batch is None else self.write(batch)

    def detach(self, partition: int) -> _Batch | None:
        """Take the partition's buffer for :meth:`write` and start a new one.

        ``write`` may then run on another thread (Parquet encoding, fsync and the DLQ flush
        release the GIL) while this thread keeps buffering: the batches of one partition
        must be written one after the other, in the order they were detached, and the Kafka
        offset committed only after its ``write`` returned (see the module docstring).
        """
        state = self.states[partition]
        if state.start is None:
            return None
        batch = _Batch(partition, state.start, state.end, state.tables, state.rejects, self.log_dir(partition))
        state.next_offset = state.end + 1
        state.reset()
        return batch

    def write(self, batch: _Batch) -> FlushResult:
        partition, start, end = batch.partition, batch.start, batch.end
        if batch.rejects and self.dlq is not None:
            self.dlq.send_all(batch.rejects, partition)
        name = data_file_name(self.topic, partition, start, end, self.tag)
        # one chunk per column: a table concatenated from many polls writes 2-3x slower
        tables = {pkey: pa.concat_tables(parts).combine_chunks() for pkey, parts in sorted(batch.tables.items())}
        received = sum(t.num_rows for t in tables.values())
        keep, d = self.registry.provisional_mask(_ids(tables))  # resubmissions (~1%) dropped before staging
        if not keep.all():
            tables, d = _filter(tables, keep), d[keep]
        files = self._stage(batch, name, tables)  # outside the registry lock
        with self.registry.claiming() as reg:
            keep, d = reg.new_mask(_ids(tables), d)
            if not keep.all():  # another process registered one of them since: rare, stage again
                tables = _filter(tables, keep)
                files = self._stage(batch, name, tables)
            kept = _ids(tables)
            if kept:
                reg.register((self.tag, partition, start, end), d[keep])
            duplicates = received - len(kept)
            marker = {
                "topic": self.topic, "partition": partition, "start_offset": start, "end_offset": end,
                "files": files, "submission_ids": kept,
                "rejected": dict(Counter(r.reason for r in batch.rejects)), "duplicates": duplicates,
                "committed_at": datetime.now(UTC).isoformat(),
            }
            write_atomic(batch.log_dir / marker_name(start, end), orjson.dumps(marker))  # the commit point
        staging = batch.log_dir / "staging"
        for f in files:
            self._roll_forward(staging / f["staged"], self.lake_dir / f["path"], recovering=False)
        return FlushResult(partition, start, end, len(kept), len(files), len(batch.rejects), duplicates)

    def _stage(self, batch: _Batch, name: str, tables: dict[PartitionKey, pa.Table]) -> list[dict]:
        """Write and fsync one staged Parquet file per non-empty lake partition; their marker entries."""
        staging = batch.log_dir / "staging"
        files = []
        for pkey, table in tables.items():
            staged_name = f"{'~'.join(pkey)}~{name}"
            if not table.num_rows:
                (staging / staged_name).unlink(missing_ok=True)
                continue
            with open(staging / staged_name, "wb") as fh:
                pq.write_table(table, fh, compression="zstd", row_group_size=256 * 1024)
                fh.flush()
                os.fsync(fh.fileno())
            final = partition_dir(self.raw_dir, pkey) / name
            files.append({"path": str(final.relative_to(self.lake_dir)), "staged": staged_name,
                          "rows": table.num_rows, "instrument": pkey[0], "school_year": pkey[1], "term": pkey[2]})
        return files


def _ids(tables: dict[PartitionKey, pa.Table]) -> list[str]:
    return [i for t in tables.values() for i in t.column("submission_id").to_pylist()]


def _filter(tables: dict[PartitionKey, pa.Table], keep) -> dict[PartitionKey, pa.Table]:
    """The tables without the rows ``keep`` (over their rows, in order) marks False."""
    out, at = {}, 0
    for pkey, table in tables.items():
        out[pkey] = table.filter(pa.array(keep[at:at + table.num_rows]))
        at += table.num_rows
    return out
