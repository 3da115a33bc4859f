"""Which submission ids the lake holds, across every Kafka partition and ingestion process.

A submission id is the idempotency key of the event contract: a resubmission is stored once,
whatever partition it arrives on. Partitions alone cannot promise that: a producer with another
partitioner (librdkafka's CRC32 against kafka-python's murmur2), another key, or a changed
partition count sends the copy elsewhere, where another process may own it.

The registry is a folder of **segments** beside the commit log,
``_ingest_log/<topic>/ids/<cluster tag>+<partition>+<first>+<last>.ids``: the 128-bit BLAKE2b
digests of the ids one committed batch stored, sorted. One ``flock`` (``ids/.lock``) serializes
check-and-register across processes; under it a writer

1. loads the segments it has not seen yet,
2. drops the batch's ids that are already registered (and repeats within the batch: the lowest
   offset wins),
3. stages its Parquet files, writes its segment, then its marker (the commit point, see
   :mod:`ingestion.sink`), and releases the lock.

A segment without its marker therefore exists only when a writer died between steps 3b and 3c;
whoever takes the lock next deletes it (the batch will be consumed again and re-registered). A
digest collision would need ~2^64 ids. Memory: 16 bytes per stored id in every ingestion process
(160 MB at ten million), in sorted levels merged geometrically (each id is merged again O(log n)
times). Many segments are compacted into one ``base`` file.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from leap.fsutil import FileLock, write_atomic

log = logging.getLogger(__name__)

SUFFIX = ".ids"
BASE_PREFIX = "base-"
COMPACT_AT = 512  # segment files before they are merged into one base file

# (cluster tag, partition, first offset, last offset) of a committed batch
BatchId = tuple[str, int, int, int]


def digests(ids: Iterable[str]) -> np.ndarray:
    """128-bit BLAKE2b digests of the ids as an (n, 2) uint64 array."""
    blob = b"".join(hashlib.blake2b(i.encode(), digest_size=16).digest() for i in ids)
    return np.frombuffer(blob, dtype=np.uint64).reshape(-1, 2)


def _sorted(d: np.ndarray) -> np.ndarray:
    """``d`` sorted by its high words, then its low ones.

    By the high words alone with a stable sort (timsort: two sorted runs, the levels a merge concatenates,
    are merged in linear time; lexsort on both words sorted them from scratch, 1.6 s of a million ids'
    registrations); by both words only when two ids share their high 64 bits (~never)."""
    if not len(d):
        return d.reshape(0, 2)
    out = d[np.argsort(d[:, 0], kind="stable")]
    if np.any(out[1:, 0] == out[:-1, 0]):
        out = d[np.lexsort((d[:, 1], d[:, 0]))]
    return out


class _Level:
    """A sorted level and its high words as a contiguous array: np.searchsorted copies a strided column
    (``d[:, 0]``) on every call, up to 16 MB per lookup at a million ids."""

    def __init__(self, d: np.ndarray):
        self.d = d
        self.hi = np.ascontiguousarray(d[:, 0])

    def __len__(self) -> int:
        return len(self.d)

    def contains(self, d: np.ndarray) -> np.ndarray:
        """Which rows of ``d`` are in the level (exact on all 128 bits)."""
        n = len(self.hi)
        if n == 0:  # a compaction of segments that stored nothing
            return np.zeros(len(d), dtype=bool)
        left = np.searchsorted(self.hi, d[:, 0], "left")
        at = np.minimum(left, n - 1)
        hit = (left < n) & (self.hi[at] == d[:, 0])  # a stored id with these high 64 bits
        found = hit & (self.d[at, 1] == d[:, 1])
        # more than one stored id with these high words (~never): the rest of the run, one by one
        again = hit & ~found & (at + 1 < n)
        again[again] = self.hi[at[again] + 1] == d[again, 0]
        for i in np.flatnonzero(again):
            right = np.searchsorted(self.hi, d[i, 0], "right")
            found[i] = bool(np.any(self.d[left[i]:right, 1] == d[i, 1]))
        return found


def segment_name(batch: BatchId) -> str:
    tag, partition, start, end = batch
    return f"{tag}+{partition:03d}+{start:020d}+{end:020d}{SUFFIX}"


def parse_segment(name: str) -> BatchId | None:
    if name.startswith(BASE_PREFIX) or not name.endswith(SUFFIX):
        return None
    tag, partition, start, end = name[: -len(SUFFIX)].split("+")
    return tag, int(partition), int(start), int(end)


class SubmissionRegistry:
    """The stored submission ids of one topic; use :meth:`claiming` to check and register a batch."""

    def __init__(self, root: Path, committed: Callable[[BatchId], bool], lock_timeout: float = 300.0):
        self.root = root
        self.committed = committed  # does the batch's marker exist?
        self.lock = FileLock(root / ".lock", timeout=lock_timeout, poll=0.005,
                             message=f"another ingestion process holds the submission registry {root} for "
                                     f"{lock_timeout:.0f} s", hint="check for a hung ingestion process")
        self._threads = threading.Lock()  # the writer threads of one process: the flock is per process
        self.levels: list[_Level] = []
        self.loaded: set[str] = set()
        self.base: str | None = None

    # ------------------------------------------------------------------ reading

    def __len__(self) -> int:
        return sum(len(level) for level in self.levels)

    def _read(self, path: Path) -> np.ndarray:
        return np.fromfile(path, dtype=np.uint64).reshape(-1, 2)

    def _add_level(self, d: np.ndarray) -> None:
        """Append a sorted level; merge while the newest is at least half the one before (LSM-style)."""
        if not len(d):
            return
        self.levels.append(_Level(d))
        while len(self.levels) > 1 and 2 * len(self.levels[-1]) >= len(self.levels[-2]):
            newest = self.levels.pop()
            self.levels[-1] = _Level(_sorted(np.concatenate([self.levels[-1].d, newest.d])))

    def refresh(self, prune: bool = True) -> None:
        """Load the segments written since the last call. Under the lock (``prune``), a segment whose
        batch has no marker is an uncommitted one's and is deleted; without it, it is only skipped."""
        names = sorted(os.listdir(self.root)) if self.root.exists() else []
        bases = [n for n in names if n.startswith(BASE_PREFIX) and n.endswith(SUFFIX)]  # not their .merged lists
        base = bases[-1] if bases else None
        if base != self.base:  # compacted by someone: start over from the new base
            self.levels, self.loaded, self.base = [], set(), base
            if base is not None:
                self._add_level(self._read(self.root / base))
                self.loaded |= set((self.root / base).with_suffix(".merged").read_text().split())
        for name in names:
            batch = parse_segment(name)
            if batch is None or name in self.loaded:
                continue
            if not self.committed(batch):  # its writer died before the commit point, or is writing it
                if prune:
                    log.info("removing the registry segment of an uncommitted batch: %s", name)
                    (self.root / name).unlink()
                continue
            self._add_level(self._read(self.root / name))
            self.loaded.add(name)

    # ------------------------------------------------------------------ check and register

    @contextmanager
    def claiming(self):
        """Hold the registry lock, with every committed segment loaded."""
        self.root.mkdir(parents=True, exist_ok=True)
        with self._threads, self.lock:
            self.refresh()
            yield self

    def provisional_mask(self, ids: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`new_mask` without the lock, to stage a batch's files before taking it: segments appear
        whole (written to a temporary name and renamed), so reading them unlocked is safe; the locked
        check then only confirms (another process may have registered one of the ids meanwhile), given
        the kept ids' digests from here (a digest is a BLAKE2b call per id: computed once per batch)."""
        with self._threads:
            self.refresh(prune=False)
            return self.new_mask(ids)

    def new_mask(self, ids: list[str], d: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(keep mask, digests): True for ids not registered and first in ``ids``; ``d``: their digests,
        when already computed."""
        d = digests(ids) if d is None else d
        order = np.lexsort((d[:, 1], d[:, 0]))  # stable: equal ids keep their order, the first wins
        ds = d[order]
        # looked up in that order: each search starts where the one before ended, in memory just read
        stored = np.zeros(len(d), dtype=bool)
        for level in self.levels:
            stored |= level.contains(ds)
        repeat = np.zeros(len(d), dtype=bool)
        repeat[1:] = np.all(ds[1:] == ds[:-1], axis=1)
        keep = np.empty(len(d), dtype=bool)
        keep[order] = ~stored & ~repeat
        return keep, d

    def register(self, batch: BatchId, d: np.ndarray) -> None:
        """Write the segment of a batch about to commit (call inside :meth:`claiming`)."""
        d = _sorted(d)
        name = segment_name(batch)
        write_atomic(self.root / name, d.tobytes())
        self._add_level(d)
        self.loaded.add(name)
        if len(self.loaded) - (1 if self.base else 0) > COMPACT_AT:
            self._compact()

    def _compact(self) -> None:
        """Merge every loaded segment into one base file (inside the lock)."""
        merged = _sorted(np.concatenate([level.d for level in self.levels])) if self.levels else np.zeros((0, 2), np.uint64)
        segments = sorted(n for n in self.loaded if parse_segment(n))
        seq = int(self.base[len(BASE_PREFIX):-len(SUFFIX)]) + 1 if self.base else 1
        name = f"{BASE_PREFIX}{seq:08d}{SUFFIX}"  # names sort in compaction order
        write_atomic((self.root / name).with_suffix(".merged"), "\n".join(sorted(self.loaded)).encode())
        write_atomic(self.root / name, merged.tobytes())
        for old in [self.base, *segments]:
            if old is not None and old != name:
                (self.root / old).unlink(missing_ok=True)
                if old.startswith(BASE_PREFIX):
                    (self.root / old).with_suffix(".merged").unlink(missing_ok=True)
        self.levels, self.base = [_Level(merged)], name
        log.info("registry compacted: %d segments into %s (%d ids)", len(segments), name, len(merged))

    def rebuild(self, batches: Iterable[tuple[BatchId, list[str]]]) -> int:
        """Register committed batches that have no segment (a lake from before the registry); returns how many."""
        n = 0
        with self.claiming():
            for batch, ids in batches:
                if segment_name(batch) not in self.loaded and ids:
                    self.register(batch, digests(ids))
                    n += 1
        return n
