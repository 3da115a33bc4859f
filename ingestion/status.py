"""Operator view: consumer lag per partition, what the lake holds, dead-letter counts."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from ingestion.sink import _read_markers, cluster_tag
from leap.config import Settings


@dataclass
class PartitionView:
    partition: int
    log_end: int | None = None
    committed: int | None = None
    lake_next: int | None = None
    log_start: int | None = None

    @property
    def lag(self) -> int | None:
        """Records the next drain reads: from where the consumer resumes to the log's end. The consumer
        resumes where the lake's commit log ends, or at the log's start when the lake holds nothing of
        the partition (ingestion.sink.LakeSink.assign; the group's committed offset is shown, never
        used: a lake emptied on a kept broker is read again from the start)."""
        if self.log_end is None:
            return None
        done = self.lake_next if self.lake_next is not None else (self.log_start or 0)
        return max(self.log_end - done, 0)


@dataclass
class StatusReport:
    broker_up: bool
    partitions: list[PartitionView] = field(default_factory=list)
    files_by_partition: dict[tuple[str, str, str], tuple[int, int]] = field(default_factory=dict)
    dlq_by_reason: Counter = field(default_factory=Counter)
    dlq_log_end: int | None = None
    duplicates: int = 0

    @property
    def total_rows(self) -> int:
        return sum(r for _, r in self.files_by_partition.values())

    @property
    def total_files(self) -> int:
        return sum(f for f, _ in self.files_by_partition.values())

    @property
    def total_lag(self) -> int | None:
        lags = [p.lag for p in self.partitions]
        return None if any(v is None for v in lags) else sum(lags)


def lake_summary(settings: Settings, report: StatusReport, current_tag: str | None = None) -> dict[int, int]:
    """Fill the lake part of the report from the sink's markers (every cluster's log); return the
    next offset per partition in the log of ``current_tag`` (the broker's cluster now)."""
    root = settings.layout.ingest_log / settings.topic
    files: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    next_offsets: dict[int, int] = {}
    if not root.exists():
        return next_offsets
    for pdir in sorted(root.glob("cluster=*/partition=*")):
        part = int(pdir.name.split("=")[1])
        current = pdir.parent.name == f"cluster={current_tag}"
        for m in _read_markers(pdir):
            if current:
                next_offsets[part] = max(next_offsets.get(part, 0), m["end_offset"] + 1)
            report.dlq_by_reason.update(m["rejected"])
            report.duplicates += m["duplicates"]
            for f in m["files"]:
                cell = files[(f["instrument"], f["school_year"], f["term"])]
                cell[0] += 1
                cell[1] += f["rows"]
    report.files_by_partition = {k: (v[0], v[1]) for k, v in sorted(files.items())}
    return next_offsets


def broker_offsets(settings: Settings, report: StatusReport, next_offsets: dict[int, int]) -> None:
    from kafka import TopicPartition

    from ingestion.broker import metadata_consumer

    consumer = metadata_consumer(settings, group_id=settings.consumer_group, client_id="leap-status",
                                 request_timeout_ms=15000, max_partition_fetch_bytes=1024,
                                 receive_message_max_bytes=128 * 1024 * 1024)
    try:
        parts = consumer.partitions_for_topic(settings.topic) or set()
        tps = [TopicPartition(settings.topic, p) for p in sorted(parts)]
        committed = {tp: consumer.committed(tp) for tp in tps}
        start = {tp: next_offsets.get(tp.partition, committed[tp] or 0) for tp in tps}
        ends = log_end_offsets(consumer, tps, start, settings.on_tansu)
        starts = consumer.beginning_offsets(tps)
        for tp in tps:
            report.partitions.append(PartitionView(tp.partition, ends.get(tp), committed[tp],
                                                   next_offsets.get(tp.partition), starts.get(tp)))
        dtps = [TopicPartition(settings.dlq_topic, p) for p in consumer.partitions_for_topic(settings.dlq_topic) or []]
        if dtps:
            report.dlq_log_end = sum(log_end_offsets(consumer, dtps, dict.fromkeys(dtps, 0), settings.on_tansu).values())
    finally:
        consumer.close(autocommit=False)


def log_end_offsets(consumer, tps, start: dict, on_tansu: bool = False) -> dict:
    """Log end offset per partition: ListOffsets(latest); on Tansu the larger of it and a fetch's
    high watermark.

    Tansu answers ListOffsets with the base offset of the last record batch, so there a one-record
    fetch from ``start`` is made to learn the true high watermark.
    """
    import time

    listed = consumer.end_offsets(tps)
    if not on_tansu:
        return listed
    consumer.assign(tps)
    for tp in tps:
        consumer.seek(tp, max(start.get(tp, 0), 0))
    deadline = time.monotonic() + 3.0
    while time.monotonic() < deadline and any(consumer.highwater(tp) is None for tp in tps):
        consumer.poll(timeout_ms=200, max_records=1)
    return {tp: max(listed.get(tp) or 0, consumer.highwater(tp) or 0) for tp in tps}


def collect_status(settings: Settings) -> StatusReport:
    from ingestion.broker import cluster_id, port_open

    report = StatusReport(broker_up=port_open(settings.bootstrap_servers, timeout=1.0))
    tag = cluster_tag(cluster_id(settings)) if report.broker_up else None
    next_offsets = lake_summary(settings, report, tag)
    if report.broker_up:
        broker_offsets(settings, report, next_offsets)
    else:
        report.partitions = [PartitionView(p, lake_next=o) for p, o in sorted(next_offsets.items())]
    return report


def render(report: StatusReport, settings: Settings) -> str:
    lines = [f"broker {settings.bootstrap_servers}: {'up' if report.broker_up else 'DOWN'}",
             f"topic {settings.topic}, consumer group {settings.consumer_group}",
             f"{'partition':>9} {'log end':>10} {'committed':>10} {'in lake':>10} {'lag':>8}"]
    for p in report.partitions:
        lines.append(f"{p.partition:>9} {_fmt(p.log_end):>10} {_fmt(p.committed):>10} {_fmt(p.lake_next):>10} "
                     f"{_fmt(p.lag):>8}")
    lines.append(f"total lag: {_fmt(report.total_lag)}" if report.broker_up
                 else "total lag: unknown while the broker is down")
    lines.append(f"lake {settings.layout.raw}: {report.total_files} files, {report.total_rows:,} submissions")
    for (ins, year, term), (nf, rows) in report.files_by_partition.items():
        lines.append(f"  instrument={ins}/school_year={year}/term={term}: {nf} files, {rows:,} rows")
    dlq_total = sum(report.dlq_by_reason.values())
    lines.append(f"dead-lettered: {dlq_total:,} (DLQ topic holds {_fmt(report.dlq_log_end)} records)")
    for reason, n in sorted(report.dlq_by_reason.items()):
        lines.append(f"  {reason}: {n:,}")
    lines.append(f"resubmissions stored once (duplicates skipped): {report.duplicates:,}")
    return "\n".join(lines)


def _fmt(v) -> str:
    return "-" if v is None else f"{v:,}"
