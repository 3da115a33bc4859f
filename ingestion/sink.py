"""The lake sink: durable, exactly-once micro-batches of one Kafka partition into Parquet.

Commit protocol per flush of Kafka partition *p* covering offsets [start, end]
(the Kafka Connect S3/HDFS-sink guarantee, with a write-ahead marker):

1. dead-letter the rejected records (produce + flush: at-least-once, each carries its source
   offset, so a consumer of the DLQ can drop repeats);
2. write one Parquet file per lake partition (instrument/school_year/term) into a staging
   directory of *p*, fsync;
3. write the **marker** ``_ingest_log/<topic>/cluster=<tag>/partition=<p>/<start>-<end>.json`` atomically
   (temp file, fsync, rename, fsync dir). This is the commit point;
4. rename the staged files to their final names
   ``raw/instrument=…/school_year=…/term=…/<topic>+<tag>+<p>+<start>+<end>.parquet``;
5. the consumer commits offset end+1 to Kafka (for lag monitoring only).

On assignment of *p* the sink recovers from the markers, not from Kafka's committed offset:
staged files named in a marker are rolled forward (step 4 again), staged files named in no
marker are deleted, consumption resumes at the highest marker end + 1, and the submission ids
of all markers are loaded so a resubmitted ``submission_id`` is stored once. A crash at any
point therefore neither loses nor duplicates a submission. A per-partition ``flock`` keeps
two processes from writing the same partition during a rebalance.
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


@dataclass
class _PartitionState:
    partition: int
    lock: FileLock
    seen: set[str]
    next_offset: int | None
    start: int | None = None
    end: int | None = None
    tables: dict[PartitionKey, list[pa.Table]] = field(default_factory=dict)
    rows: int = 0
    rejects: list[Reject] = field(default_factory=list)
    duplicates: int = 0
    opened_at: float = 0.0

    def reset(self) -> None:
        self.start = self.end = None
        self.tables = {}
        self.rows = 0
        self.rejects = []
        self.duplicates = 0


@dataclass
class _Batch:
    """A detached buffer of one partition, to be written with the commit protocol."""

    partition: int
    start: int
    end: int
    tables: dict[PartitionKey, list[pa.Table]]
    rejects: list[Reject]
    duplicates: int
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
        self.tag = cluster_tag(cluster_id)
        self.dlq = dlq  # DeadLetterWriter or None
        self.lock_timeout = lock_timeout
        self.states: dict[int, _PartitionState] = {}
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

    @property
    def log_root(self) -> Path:
        """Commit log of this cluster: a recreated topic (new cluster) starts a new log at offset 0."""
        return self.topic_root / f"cluster={self.tag}"

    def log_dir(self, partition: int) -> Path:
        return self.log_root / f"partition={partition:03d}"

    # ------------------------------------------------------------------ assignment and recovery

    def assign(self, partition: int) -> int | None:
        """Take ownership of ``partition``: lock, recover, return the offset to resume from."""
        if partition in self.states:
            return self.states[partition].next_offset
        ldir = self.log_dir(partition)
        (ldir / "staging").mkdir(parents=True, exist_ok=True)
        lock = partition_lock(ldir / ".lock", self.lock_timeout).acquire()
        seen, next_offset = self._recover(partition)
        self.states[partition] = _PartitionState(partition, lock, seen, next_offset)
        log.info("partition %d: %d submissions on record, resuming at offset %s", partition, len(seen),
                 next_offset if next_offset is not None else "earliest")
        return next_offset

    def release(self, partition: int) -> None:
        state = self.states.pop(partition, None)
        if state is not None:
            state.lock.release()

    def markers(self, partition: int) -> list[dict]:
        return _read_markers(self.log_dir(partition))

    def _earlier_clusters(self, partition: int) -> set[str]:
        """Submission ids stored from other clusters' logs of this partition (after a broker reset).

        Their committed files are rolled forward too: a crash just before the reset must not
        leave a committed file in staging.
        """
        seen: set[str] = set()
        for ldir in self.topic_root.glob(f"cluster=*/partition={partition:03d}"):
            if ldir == self.log_dir(partition):
                continue
            for marker in _read_markers(ldir):
                for f in marker["files"]:
                    self._roll_forward(ldir / "staging" / f["staged"], self.lake_dir / f["path"])
                seen.update(marker["submission_ids"])
        return seen

    def _recover(self, partition: int) -> tuple[set[str], int | None]:
        ldir = self.log_dir(partition)
        named: set[str] = set()
        seen: set[str] = set()
        next_offset = None
        for marker in self.markers(partition):
            for f in marker["files"]:
                named.add(f["staged"])
                self._roll_forward(ldir / "staging" / f["staged"], self.lake_dir / f["path"])
            seen.update(marker["submission_ids"])
            next_offset = max(next_offset or 0, marker["end_offset"] + 1)
        for staged in (ldir / "staging").iterdir():
            if staged.name not in named:
                log.info("partition %d: removing uncommitted staged file %s", partition, staged.name)
                staged.unlink()
        for tmp in ldir.glob(".*.tmp"):
            tmp.unlink()
        seen |= self._earlier_clusters(partition)
        return seen, next_offset

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

    def add(self, partition: int, run: DecodedRun) -> None:
        state = self.states[partition]
        if state.next_offset is not None and run.last_offset < state.next_offset:
            return  # already durable (re-delivered after a rebalance)
        if state.start is None:
            state.start = run.first_offset
            state.opened_at = time.monotonic()
        state.end = run.last_offset
        state.rejects.extend(run.rejects)
        for pkey, table in run.tables.items():
            table = self._dedupe(state, table)
            if table.num_rows:
                state.tables.setdefault(pkey, []).append(table)
                state.rows += table.num_rows

    @staticmethod
    def _dedupe(state: _PartitionState, table: pa.Table) -> pa.Table:
        seen = state.seen
        ids = table.column("submission_id").to_pylist()
        if seen.isdisjoint(ids) and len(ids) == len(unique := set(ids)):  # the usual case, at C speed
            seen |= unique
            return table
        keep = []
        for sid in ids:
            if sid in seen:
                keep.append(False)
            else:
                seen.add(sid)
                keep.append(True)
        dropped = len(keep) - sum(keep)
        if not dropped:
            return table
        state.duplicates += dropped
        return table.filter(pa.array(keep))

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
        batch = _Batch(partition, state.start, state.end, state.tables, state.rejects, state.duplicates,
                       self.log_dir(partition))
        state.next_offset = state.end + 1
        state.reset()
        return batch

    def write(self, batch: _Batch) -> FlushResult:
        partition, start, end = batch.partition, batch.start, batch.end
        if batch.rejects and self.dlq is not None:
            self.dlq.send_all(batch.rejects, partition)
        name = data_file_name(self.topic, partition, start, end, self.tag)
        staging = batch.log_dir / "staging"
        files, ids = [], []
        for pkey, tables in sorted(batch.tables.items()):
            table = pa.concat_tables(tables)
            staged_name = f"{'~'.join(pkey)}~{name}"
            with open(staging / staged_name, "wb") as fh:
                pq.write_table(table, fh, compression="zstd", row_group_size=256 * 1024)
                fh.flush()
                os.fsync(fh.fileno())
            final = partition_dir(self.raw_dir, pkey) / name
            files.append({"path": str(final.relative_to(self.lake_dir)), "staged": staged_name,
                          "rows": table.num_rows, "instrument": pkey[0], "school_year": pkey[1], "term": pkey[2]})
            ids.extend(table.column("submission_id").to_pylist())
        marker = {
            "topic": self.topic, "partition": partition, "start_offset": start, "end_offset": end,
            "files": files, "submission_ids": ids,
            "rejected": dict(Counter(r.reason for r in batch.rejects)), "duplicates": batch.duplicates,
            "committed_at": datetime.now(UTC).isoformat(),
        }
        write_atomic(batch.log_dir / f"{start:020d}-{end:020d}.json", orjson.dumps(marker))  # the commit point
        for f in files:
            self._roll_forward(staging / f["staged"], self.lake_dir / f["path"], recovering=False)
        return FlushResult(partition, start, end, len(ids), len(files), len(batch.rejects), batch.duplicates)
