"""The ingestion consumer: Kafka → decode → lake sink, bounded or as a long-running service.

``run_ingestion(settings, mode="bounded")`` drains the topic until it is caught up with the
log end offsets of its assigned partitions, flushes and exits; ``mode="service"`` runs until
SIGTERM/SIGINT, then flushes, commits and exits. Both join the consumer group
``settings.consumer_group`` so several processes share the partitions.

Decoding (JSON, validation, pseudonymization, Arrow) runs in ``workers`` separate processes
(default 1) while this process fetches from Kafka, so they use both cores; workers are pure
functions and get each poll's records as a few flat buffers (:class:`PackedRecords`).
``workers=0`` decodes in-process. Writing a flushed batch (DLQ, Parquet, fsync, marker: steps
1-4 of the protocol in :mod:`ingestion.sink`) runs on writer threads of this process, in
order, while the consumer thread keeps fetching; the consumer thread commits each batch's
offset (step 5) only after its write has returned, so the protocol is unchanged.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import time
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field

from kafka import ConsumerRebalanceListener, KafkaConsumer, TopicPartition
from kafka.errors import KafkaTimeoutError
from kafka.structs import OffsetAndMetadata

from ingestion import kafka_records
from ingestion.broker import cluster_id, make_producer, partitions_for, require_broker
from ingestion.decode import PackedRecords, decode_packed, decode_values
from ingestion.dlq import DeadLetterWriter
from ingestion.pseudonym import Pseudonymizer, load_pseudonymizer
from ingestion.sink import FlushResult, LakeSink
from leap.config import Settings
from leap.instrument import load_catalog
from leap.parallel import die_with

log = logging.getLogger(__name__)

WRITER_THREADS = 3  # Parquet encoding and fsyncs release the GIL
REQUEST_TIMEOUT_MS = 30_000  # a standalone consumer's request unanswered this long is given up (_request_timeout)


@dataclass
class IngestStats:
    consumed: int = 0
    landed: int = 0
    rejected: int = 0
    duplicates: int = 0
    files: int = 0
    flushes: int = 0
    started: float = field(default_factory=time.monotonic)
    first_record_at: float | None = None  # wall clock: first records polled
    finished_at: float | None = None  # wall clock: last batch durable, process about to exit
    # where the fetching process spends its time (seconds)
    poll_s: float = 0.0
    submit_s: float = 0.0
    wait_s: float = 0.0
    flush_s: float = 0.0
    write_s: float = 0.0  # on the writer thread (overlaps with the above)

    def add(self, r: FlushResult) -> None:
        self.landed += r.rows
        self.rejected += r.rejected
        self.duplicates += r.duplicates
        self.files += r.files
        self.flushes += 1

    def line(self) -> str:
        secs = max(time.monotonic() - self.started, 1e-9)
        return (f"consumed {self.consumed:,}  landed {self.landed:,}  dead-lettered {self.rejected:,}  "
                f"duplicates {self.duplicates:,}  files {self.files:,}  ({self.consumed / secs:,.0f} records/s)")


# --------------------------------------------------------------------------- worker process side

_WORKER: dict = {}


def _init_worker(key: bytes, parent: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    die_with(parent)
    _WORKER["catalog"] = load_catalog()
    _WORKER["pseudonymizer"] = Pseudonymizer(key)


def _decode_in_worker(packed: PackedRecords, partition: int):
    return decode_packed(packed, partition, _WORKER["catalog"], _WORKER["pseudonymizer"])


class _Done(Future):
    """An already-resolved future for in-process decoding."""

    def __init__(self, value):
        super().__init__()
        self.set_result(value)


# --------------------------------------------------------------------------- the loop


class _Rebalance(ConsumerRebalanceListener):
    def __init__(self, ingestor: Ingestor):
        self.ingestor = ingestor

    def on_partitions_revoked(self, revoked):
        self.ingestor.on_revoked(revoked)

    def on_partitions_assigned(self, assigned):
        self.ingestor.on_assigned(assigned)


class Ingestor:
    def __init__(self, settings: Settings, *, workers: int = 1, max_poll_records: int = 20000,
                 progress: bool = False, progress_every: float = 5.0, standalone: bool = False,
                 partitions: list[int] | None = None):
        self.settings = settings
        self.standalone = standalone or partitions is not None
        self.only_partitions = partitions
        self.workers = workers
        self.max_poll_records = max_poll_records
        self.progress = progress
        self.progress_every = progress_every
        self.stats = IngestStats()
        self.stop_requested = False
        # decodes in flight, in poll order: (partition, future of DecodedRun, records, when polled)
        self.pending: deque[tuple[TopicPartition, Future, list, float]] = deque()
        # Flushes in flight on the writer thread, in order: (partition, future of FlushResult).
        self.flushing: deque[tuple[int, Future]] = deque()
        self.writer: ThreadPoolExecutor | None = None
        self.write_failed = False
        self.recent_writes: deque[float] = deque([0.0], maxlen=20)  # the age trigger allows for the slowest
        self.pseudonymizer, self.key_source = load_pseudonymizer(settings.layout.pseudonym_key)
        self.catalog = load_catalog()
        self.consumer: KafkaConsumer | None = None
        self.sink: LakeSink | None = None
        self.pool: ProcessPoolExecutor | None = None
        self.assigned_once = False

    # -- lifecycle ---------------------------------------------------------------------------

    def open(self) -> None:
        require_broker(self.settings)
        dlq = DeadLetterWriter(make_producer(self.settings, client_id="leap-ingestion-dlq"),
                               self.settings.dlq_topic, self.settings.topic)
        self.sink = LakeSink(self.settings.layout, self.settings.topic, dlq,
                             cluster_id=cluster_id(self.settings))
        # Writer threads: the batches of one partition are written one after the other, in detach
        # order (each waits for its partition's previous one); partitions in parallel, so six batches
        # due at once do not queue behind each other (the age trigger bounds latency).
        self.writer = ThreadPoolExecutor(WRITER_THREADS, thread_name_prefix="leap-lake-writer")
        self.last_write: dict[int, Future] = {}
        if self.workers > 0:
            import multiprocessing as mp

            self.pool = ProcessPoolExecutor(self.workers, mp_context=mp.get_context("spawn"),
                                            initializer=_init_worker, initargs=(self.pseudonymizer.key, os.getpid()))
        self._connect()

    def _request_timeout(self) -> dict:
        """kafka-python's default request timeout (305 s) is how long a lookup whose request died with its
        connection (end_offsets after a reset) blocks. A standalone consumer gives such a request up after
        REQUEST_TIMEOUT_MS (above the session timeout, as kafka-python requires); a group member keeps the
        default, because its JoinGroup request waits, by the same timeout, for a rebalance that may take up
        to max_poll_interval_ms."""
        if not self.standalone:
            return {}
        return {"request_timeout_ms": max(REQUEST_TIMEOUT_MS, self.settings.session_timeout_ms + 5000)}

    def _connect(self) -> None:
        """A new consumer client; subscribe to the group, or assign the partitions (standalone)."""
        kafka_records.install()  # the same records, unpacked at about half kafka-python's cost
        self.consumer = KafkaConsumer(
            bootstrap_servers=self.settings.bootstrap_servers,
            group_id=self.settings.consumer_group,
            client_id="leap-ingestion",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=self.max_poll_records,
            max_partition_fetch_bytes=8 * 1024 * 1024,
            fetch_max_bytes=64 * 1024 * 1024,
            receive_message_max_bytes=128 * 1024 * 1024,
            max_poll_interval_ms=600000,
            allow_auto_create_topics=False,
            session_timeout_ms=self.settings.session_timeout_ms,
            group_instance_id=self.settings.instance_id,
            heartbeat_interval_ms=min(3000, self.settings.session_timeout_ms // 3),
            **self._request_timeout(),
        )
        if self.standalone:  # this process owns its partitions: no group protocol, no rebalances
            parts = partitions_for(self.settings, self.settings.topic, timeout=60)
            if self.only_partitions is not None:
                parts = [p for p in parts if p in set(self.only_partitions)]
            tps = [TopicPartition(self.settings.topic, p) for p in parts]
            self.consumer.assign(tps)
            self.on_assigned(tps)
        else:
            self.consumer.subscribe([self.settings.topic], listener=_Rebalance(self))

    def close(self) -> None:
        try:
            if self.consumer is not None and self.sink is not None:
                self._drain_pending()
                for p in list(self.sink.states):
                    self._flush(p)
                self._finish_flushes(block=True)
                for p in list(self.sink.states):
                    self.sink.release(p)
        finally:
            if self.writer is not None:
                self.writer.shutdown(wait=True)
            if self.pool is not None:
                self.pool.shutdown(wait=True, cancel_futures=True)
            if self.consumer is not None:
                self.consumer.close(autocommit=False)
            if self.sink is not None and self.sink.dlq is not None:
                self.sink.dlq.close()

    # -- rebalance ---------------------------------------------------------------------------

    def on_assigned(self, assigned) -> None:
        self.assigned_once = True
        if not self.sink.states and (new_cluster := self._cluster_changed()) is not None:
            self.sink.switch_cluster(new_cluster)  # rejoined a group on a new broker: nothing buffered
        for tp in assigned:
            offset = self.sink.assign(tp.partition)
            if offset is None:
                self.consumer.seek_to_beginning(tp)
            else:
                self.consumer.seek(tp, offset)
        log.info("assigned partitions %s", sorted(tp.partition for tp in assigned))

    def on_revoked(self, revoked) -> None:
        self._drain_pending()
        for tp in revoked:
            if tp.partition in self.sink.states:
                self._flush(tp.partition)
        self._finish_flushes(block=True)  # durable and committed before the locks are released
        for tp in revoked:
            if tp.partition in self.sink.states:
                self.sink.release(tp.partition)
        log.info("revoked partitions %s", sorted(tp.partition for tp in revoked))

    # -- steps ---------------------------------------------------------------------------------

    def _submit(self, tp: TopicPartition, messages) -> None:
        offsets = [m.offset for m in messages]
        values = [m.value for m in messages]
        self.stats.consumed += len(offsets)
        if self.pool is None:
            fut = _Done(decode_values(offsets, values, tp.partition, self.catalog, self.pseudonymizer))
        else:
            fut = self.pool.submit(_decode_in_worker, PackedRecords.pack(offsets, values), tp.partition)
        self.pending.append((tp, fut, messages, time.monotonic()))

    def _collect(self, block: bool = False) -> None:
        """Hand finished decodes to the sink in submission order."""
        while self.pending and (block or self.pending[0][1].done() or len(self.pending) > 2 * max(self.workers, 1)):
            tp, fut, messages, polled_at = self.pending.popleft()
            run = fut.result()
            for rej in run.rejects:  # keys stayed here; the dead-letter record carries the original key
                rej.key = messages[rej.index].key
            if tp.partition in self.sink.states:
                self.sink.add(tp.partition, run, arrived_at=polled_at)

    def _drain_pending(self) -> None:
        self._collect(block=True)

    def _flush(self, partition: int, commit: bool = True) -> None:
        """Detach the partition's buffer and hand it to the writer thread (steps 1-4 of the protocol)."""
        batch = self.sink.detach(partition)
        if batch is not None:
            fut = self.writer.submit(self._write, batch, self.last_write.get(partition))
            self.last_write[partition] = fut
            self.flushing.append((partition, fut))
        # bound the memory held by batches waiting for the writers
        self._finish_flushes(block=False, keep=WRITER_THREADS + 1, commit=commit)

    def _write(self, batch, previous: Future | None) -> FlushResult:
        # After a failed write no later batch may commit: its marker would claim the offsets
        # of the failed one (recovery resumes after the highest marker). The error surfaces on
        # the consumer thread at that batch's future and stops the process, as before.
        if previous is not None:
            previous.result()  # the partition's batches commit in order; a failed one stops the rest
        if self.write_failed:
            raise RuntimeError(f"an earlier lake write failed; batch {batch.start}-{batch.end} not written")
        t = time.monotonic()
        try:
            return self.sink.write(batch)
        except BaseException:
            self.write_failed = True
            raise
        finally:
            took = time.monotonic() - t
            self.stats.write_s += took
            self.recent_writes.append(took)

    def _finish_flushes(self, block: bool = False, keep: int | None = None, commit: bool = True) -> None:
        """Commit the offsets of written batches (step 5), in order, on this (the consumer's) thread."""
        while self.flushing and (block or self.flushing[0][1].done()
                                 or (keep is not None and len(self.flushing) > keep)):
            partition, fut = self.flushing.popleft()
            result: FlushResult = fut.result()  # a failed write raises here: nothing is committed
            self.stats.add(result)
            if not commit:  # the offsets belong to a broker that is gone
                continue
            tp = TopicPartition(self.settings.topic, partition)
            try:
                self.consumer.commit({tp: OffsetAndMetadata(result.end + 1, "", -1)})
            except Exception as exc:  # the lake is the record of progress; a failed commit only delays lag
                log.warning("offset commit for partition %d failed (%s); the lake marker stands", partition, exc)

    def _flush_due(self, max_age: float) -> None:
        """Hand over the batches that are full or old. LEAP_FLUSH_SECONDS bounds a record's time from
        arrival to its commit, so a batch is handed over as much earlier than its age limit as the slowest
        of the last 20 writes took (at most half the limit)."""
        for p in self.sink.due(self.settings.flush_records, self._age_limit(max_age)):
            self._flush(p)
        self._finish_flushes()

    def _caught_up(self) -> bool:
        """Position at or past the log end of every assigned partition.

        On Tansu the log end is also the high watermark of the last fetch: it answers
        ListOffsets(latest) with the last batch's base offset (see ingestion.embedded.tansu).
        """
        assignment = self.consumer.assignment()
        if not assignment:
            return False
        try:
            ends = self.consumer.end_offsets(list(assignment))
        except KafkaTimeoutError:  # the lookup was lost (a connection reset): not known to be caught up yet
            log.warning("no answer to the log-end lookup within %d ms; polling on and asking again",
                        self.consumer.config["request_timeout_ms"])
            return False
        for tp in assignment:
            end = ends[tp]
            if self.settings.on_tansu:
                hw = self.consumer.highwater(tp)
                if hw is None:
                    return False
                end = max(end, hw)
            if self.consumer.position(tp) < end:
                return False
        return True

    # -- the broker's cluster -----------------------------------------------------------------

    def _cluster_changed(self) -> str | None:
        """The new cluster id when the broker answering is not the one the sink's log belongs to.

        A memory-only broker that restarted (Tansu), or a topic's cluster rebuilt from scratch,
        numbers its records from 0 again: resuming from the old log's markers would skip every
        new record below them. kafka-python refreshes its metadata (which carries the cluster id)
        when it reconnects, before it fetches from the new broker.
        """
        now = self.consumer._client.cluster.cluster_id
        return now if now and self.sink.cluster_id and now != self.sink.cluster_id else None

    def _switch_cluster(self, new_id: str) -> None:
        """Write what was buffered under the old cluster's log, then start the new cluster's log."""
        log.warning("the broker's cluster changed (%s -> %s): the old log is closed, the new one starts at "
                    "its own offsets; records the old broker had not delivered are gone with it",
                    self.sink.cluster_id, new_id)
        self._drain_pending()
        for p in list(self.sink.states):
            self._flush(p, commit=False)
        self._finish_flushes(block=True, commit=False)
        for p in list(self.sink.states):
            self.sink.release(p)
        self.sink.switch_cluster(new_id)
        # A new client: kafka-python's group member keeps the vanished topic's metadata and, when
        # the topic comes back with the same partition count, never rebalances to take it.
        self.consumer.close(autocommit=False)
        self._connect()

    # -- main loops ---------------------------------------------------------------------------

    def run(self, mode: str = "bounded", idle_exit_seconds: float = 30.0) -> IngestStats:
        # The age trigger bounds latency in service mode; a bounded drain (a backfill) flushes by
        # size only, which makes fewer, larger files for validation and the warehouse.
        max_age = self.settings.flush_seconds if mode == "service" else float("inf")
        last_progress = time.monotonic()
        idle_since = time.monotonic()
        while not self.stop_requested:
            t0 = time.monotonic()
            batches = self.consumer.poll(timeout_ms=self._poll_timeout_ms(max_age), max_records=self.max_poll_records)
            if (new_cluster := self._cluster_changed()) is not None:
                self._switch_cluster(new_cluster)  # this poll's records are fetched again from the new log
                continue
            t1 = time.monotonic()
            if batches and self.stats.first_record_at is None:
                self.stats.first_record_at = time.time()
            for tp, messages in batches.items():
                self._submit(tp, messages)
            t2 = time.monotonic()
            self._collect()
            t3 = time.monotonic()
            self._flush_due(max_age)
            now = time.monotonic()
            st = self.stats
            st.poll_s, st.submit_s, st.wait_s, st.flush_s = (st.poll_s + t1 - t0, st.submit_s + t2 - t1,
                                                             st.wait_s + t3 - t2, st.flush_s + now - t3)
            if self.progress and now - last_progress >= self.progress_every:
                print(f"ingest: {self.stats.line()}", file=sys.stderr, flush=True)
                last_progress = now
            if batches:
                idle_since = now
                continue
            if mode == "bounded" and self._bounded_done(now - idle_since, idle_exit_seconds):
                break
        return self.stats

    def _poll_timeout_ms(self, max_age: float) -> int:
        """At most 200 ms, and no longer than until the oldest open batch is due (latency)."""
        oldest = self.sink.oldest_open()
        if oldest is None or max_age == float("inf"):
            return 200
        return int(min(200.0, max(0.0, oldest + self._age_limit(max_age) - time.monotonic()) * 1000))

    def _age_limit(self, max_age: float) -> float:
        return max_age - min(max(self.recent_writes), max_age / 2)

    def _bounded_done(self, idle_for: float, idle_exit_seconds: float) -> bool:
        if self.pending:
            return False
        self._finish_flushes(block=True)
        if self._caught_up():
            return True
        # Nothing assigned (more consumers than partitions) or a stuck group: give up after a while.
        return not self.consumer.assignment() and idle_for > idle_exit_seconds


def run_ingestion(settings: Settings, mode: str = "bounded", *, workers: int = 1, progress: bool = True,
                  idle_exit_seconds: float = 30.0, standalone: bool = False,
                  partitions: list[int] | None = None) -> IngestStats:
    """Run the consumer until caught up (bounded) or until SIGTERM/SIGINT (service).

    ``standalone``: assign every partition to this process instead of joining the consumer
    group (one-instance deployments; restarts resume at once, without a group rebalance).
    ``partitions``: standalone on these partitions only (see :func:`run_parallel_drain`).
    """
    ingestor = Ingestor(settings, workers=workers, progress=progress, standalone=standalone,
                        partitions=partitions)

    def _stop(signum, _frame):
        log.info("signal %d: flushing and stopping", signum)
        ingestor.stop_requested = True

    import threading

    in_main = threading.current_thread() is threading.main_thread()
    previous = {s: signal.signal(s, _stop) for s in (signal.SIGTERM, signal.SIGINT)} if in_main else {}
    try:
        ingestor.open()
        stats = ingestor.run(mode, idle_exit_seconds=idle_exit_seconds)
    finally:
        ingestor.close()
        ingestor.stats.finished_at = time.time()
        for s, handler in previous.items():
            signal.signal(s, handler)
    if progress:
        print(f"ingest done: {stats.line()}", file=sys.stderr, flush=True)
    return stats


def run_parallel_drain(settings: Settings, processes: int, *, progress: bool = True) -> IngestStats:
    """Bounded drain split over ``processes`` standalone processes, partition p to process p % N.

    Each process fetches and decodes its own partitions in-process, so the Kafka client's
    per-record work (the part a single fetching process cannot spread) runs on every core.
    The per-partition locks and the commit log make the split as safe as a consumer group.
    """
    import subprocess

    parts = partitions_for(settings, settings.topic)
    groups = [[p for p in parts if p % processes == k] for k in range(processes)]
    procs = [subprocess.Popen([sys.executable, "-m", "leap.cli", "ingest", "--bounded", "--workers", "0",
                               "--partitions", ",".join(map(str, g)), "--json-stats"]
                              + ([] if progress else ["--quiet"]), stdout=subprocess.PIPE, text=True)
             for g in groups if g]
    total = IngestStats()
    failed = []
    for proc in procs:
        out, _ = proc.communicate()
        if proc.returncode != 0:
            failed.append(proc.returncode)
            continue
        stats = json.loads(out.strip().splitlines()[-1])
        for key in ("consumed", "landed", "rejected", "duplicates", "files", "flushes"):
            setattr(total, key, getattr(total, key) + stats[key])
        if stats["first_record_at"] is not None:
            total.first_record_at = min(total.first_record_at or stats["first_record_at"], stats["first_record_at"])
        total.finished_at = max(total.finished_at or 0.0, stats["finished_at"] or 0.0)
    if failed:
        from leap.errors import LeapError

        raise LeapError(f"{len(failed)} of {len(procs)} ingestion processes failed (exit {failed})",
                        hint="rerun: the lake's commit log makes a re-run resume where each stopped")
    return total
