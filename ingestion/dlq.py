"""Dead-letter topic writer: the original bytes, a reason code and where they came from.

Headers follow the Kafka Connect convention of carrying error context in headers:
``leap.dlq.reason`` (a code from :data:`ingestion.contract.REASONS`), ``leap.dlq.detail``,
``leap.dlq.source.topic``, ``leap.dlq.source.partition``, ``leap.dlq.source.offset``.
Delivery is at-least-once: after a crash a rejected record may be dead-lettered again;
(source partition, source offset) identifies it.

Reading it back (``leap dlq list|show|replay``): :func:`read_dead_letters`, :class:`DeadLetter`
(masked by default: the topic holds raw respondent ids) and :func:`replay`.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace

import orjson

from ingestion.decode import Reject
from leap.config import Settings


class DeadLetterWriter:
    def __init__(self, producer, dlq_topic: str, source_topic: str):
        self.producer = producer
        self.dlq_topic = dlq_topic
        self.source_topic = source_topic.encode()

    def send_all(self, rejects: list[Reject], source_partition: int) -> None:
        part = str(source_partition).encode()
        for r in rejects:
            headers = [
                ("leap.dlq.reason", r.reason.encode()),
                ("leap.dlq.detail", r.detail.encode("utf-8", "replace")[:1000]),
                ("leap.dlq.source.topic", self.source_topic),
                ("leap.dlq.source.partition", part),
                ("leap.dlq.source.offset", str(r.offset).encode()),
            ]
            self.producer.send(self.dlq_topic, key=r.key, value=r.value if r.value is not None else b"",
                               headers=headers)
        # Durable in the DLQ before the batch's marker is written (see ingestion.sink).
        self.producer.flush(timeout=30)

    def close(self) -> None:
        self.producer.close(timeout=10)


# --------------------------------------------------------------------------- reading and replaying

# The dead-letter topic keeps the original bytes, raw respondent identifiers included (a record that
# cannot be decoded cannot be pseudonymized): long enough to fix the cause and replay, no longer.
DLQ_RETENTION_DAYS = 30
MASK = "<masked>"
# a respondent id inside bytes that may not parse as JSON at all (a dead letter's bytes often do not)
_RESPONDENT_ID = re.compile(rb'("respondent_id"\s*:\s*")((?:[^"\\]|\\.)*)(")')


@dataclass(frozen=True)
class DeadLetter:
    """One record of the dead-letter topic: where it is, the original bytes and the reason."""

    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes
    reason: str
    detail: str
    source_topic: str
    source_partition: int | None
    source_offset: int | None

    @classmethod
    def from_record(cls, rec) -> DeadLetter:
        h = {k: v.decode("utf-8", "replace") for k, v in (rec.headers or [])}
        as_int = lambda name: int(h[name]) if h.get(name, "").lstrip("-").isdigit() else None  # noqa: E731
        return cls(rec.partition, rec.offset, rec.timestamp, rec.key, rec.value or b"",
                   h.get("leap.dlq.reason", "unknown"), h.get("leap.dlq.detail", ""),
                   h.get("leap.dlq.source.topic", ""), as_int("leap.dlq.source.partition"),
                   as_int("leap.dlq.source.offset"))

    @property
    def submission_id(self) -> str | None:
        try:
            sid = orjson.loads(self.value).get("submission_id")
        except (orjson.JSONDecodeError, AttributeError):
            return None
        return sid if isinstance(sid, str) else None

    def masked(self) -> DeadLetter:
        """The same record with every raw respondent id replaced by :data:`MASK` (bytes and detail)."""
        found = [m.group(2) for m in _RESPONDENT_ID.finditer(self.value)]
        value = _RESPONDENT_ID.sub(lambda m: m.group(1) + MASK.encode() + m.group(3), self.value)
        detail = self.detail
        for raw in found:
            if raw:
                detail = detail.replace(raw.decode("utf-8", "replace"), MASK)
        return replace(self, value=value, detail=detail)

    def to_dict(self) -> dict:
        text = self.value.decode("utf-8", "replace")
        return {"partition": self.partition, "offset": self.offset, "timestamp_ms": self.timestamp_ms,
                "reason": self.reason, "detail": self.detail, "source_topic": self.source_topic,
                "source_partition": self.source_partition, "source_offset": self.source_offset,
                "submission_id": self.submission_id, "value": text}


def read_dead_letters(settings: Settings) -> Iterator[DeadLetter]:
    """Every record of the dead-letter topic, partition by partition, from the start to its log end
    (no consumer group: reading commits nothing and moves nobody's offsets)."""
    from kafka import TopicPartition

    from ingestion.broker import metadata_consumer, require_broker
    from ingestion.status import log_end_offsets

    require_broker(settings)
    consumer = metadata_consumer(settings, consumer_timeout_ms=5000)
    try:
        parts = sorted(consumer.partitions_for_topic(settings.dlq_topic) or [])
        tps = [TopicPartition(settings.dlq_topic, p) for p in parts]
        ends = log_end_offsets(consumer, tps, dict.fromkeys(tps, 0), settings.on_tansu) if tps else {}
        for tp in tps:
            consumer.assign([tp])
            consumer.seek_to_beginning(tp)
            while consumer.position(tp) < ends[tp]:
                batch = consumer.poll(timeout_ms=5000).get(tp, [])
                if not batch:
                    break  # nothing more within the timeout (records deleted by retention)
                for rec in batch:
                    if rec.offset < ends[tp]:
                        yield DeadLetter.from_record(rec)
    finally:
        consumer.close(autocommit=False)


def replay(settings: Settings, letters: Iterable[DeadLetter]) -> dict:
    """Send dead letters back to the submissions topic, after a fix of what rejected them.

    Each record is checked again with the current contract and instrument catalog: one that would be
    rejected again stays where it is (counted by its new reason). Replays are idempotent by submission
    id: a ledger (``<ingest log>/dlq-replays/<topic>.ids``) lists the ids replayed, and one already there
    is skipped; a crash between sending and writing the ledger sends it once more, and the lake's
    registry (:mod:`ingestion.registry`) then stores it once. Returns the counts.
    """
    from ingestion.contract import Rejected, check_submission
    from ingestion.producer import produce
    from leap.instrument import load_catalog

    catalog = load_catalog()
    ledger = settings.layout.ingest_log / "dlq-replays" / f"{settings.topic}.ids"
    done = set(ledger.read_text().split()) if ledger.exists() else set()
    send, ids, still_invalid, already = [], {}, Counter(), 0
    for dl in letters:
        try:
            check_submission(dl.value, catalog)
        except Rejected as exc:
            still_invalid[exc.reason] += 1
            continue
        sid = dl.submission_id
        if sid in done or sid in ids:
            already += 1
            continue
        send.append((dl.key, dl.value))
        ids[sid] = None
    sent = produce(send, settings, progress=False) if send else 0
    if ids:
        ledger.parent.mkdir(parents=True, exist_ok=True)
        with ledger.open("a", encoding="utf-8") as fh:
            fh.write("".join(f"{sid}\n" for sid in ids))
            fh.flush()
            os.fsync(fh.fileno())
    return {"replayed": sent, "already_replayed": already, "still_invalid": dict(still_invalid)}
