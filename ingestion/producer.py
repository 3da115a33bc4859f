"""Producing submissions to Kafka: records of any source, and partner bulk files."""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from leap.errors import LeapError


class _Progress:
    """Prints ``produced n/total (p%)`` to stderr at every 10% of a long run."""

    def __init__(self, total: int | None, enabled: bool, label: str = "produced"):
        self.total, self.label = total, label
        self.enabled = enabled and (total is None or total >= 10_000)
        self.step = max(1, total // 10) if total else 50_000
        self.next = self.step

    def tick(self, n: int) -> None:
        if self.enabled and n >= self.next:
            pct = f" ({100 * n // self.total}%)" if self.total else ""
            print(f"{self.label} {n}/{self.total or '?'}{pct}", file=sys.stderr, flush=True)
            self.next += self.step


def produce(records: Iterable, settings, topic: str | None = None, progress: bool = True) -> int:
    """Send ``(key, value)`` records (e.g. :class:`SimRecord`) to Kafka, flush, return the count sent.

    Key = school id. Raises LeapError when the broker is unreachable or a send fails.
    """
    from kafka.errors import KafkaError

    from ingestion.broker import broker_hint, make_producer

    topic = topic or settings.topic
    producer = make_producer(settings)
    total = len(records) if hasattr(records, "__len__") else None
    meter = _Progress(total, progress)
    failures: list = []
    sent = 0
    try:
        for rec in records:
            producer.send(topic, key=rec[0], value=rec[1]).add_errback(failures.append)
            sent += 1
            meter.tick(sent)
        producer.flush()
    except KafkaError as exc:
        raise LeapError(f"producing to {topic} on {settings.bootstrap_servers} failed: {exc}",
                        hint=broker_hint(settings)) from None
    finally:
        producer.close(timeout=30)  # never wait forever for a broker that went away
    if failures:
        raise LeapError(f"{len(failures)} of {sent} records were not acknowledged by {topic}: {failures[0]}",
                        hint=broker_hint(settings))
    return sent



def produce_file(path: str | Path, settings, fmt: str | None = None, topic: str | None = None,
                 progress: bool = True, skip_invalid: bool = False, allow_invalid: bool = False) -> dict:
    """Produce a partner bulk file into Kafka (:func:`checked_records`, then :func:`produce`); returns
    counts ``{"sent", "valid", "invalid": {reason: n}}``."""
    records, counts = checked_records(path, fmt, skip_invalid=skip_invalid, allow_invalid=allow_invalid)
    return {**counts, "sent": produce(records, settings, topic=topic, progress=progress)}


def checked_records(path: str | Path, fmt: str | None = None, skip_invalid: bool = False,
                    allow_invalid: bool = False) -> tuple[list, dict]:
    """The records of a partner bulk file to send, and counts ``{"valid", "invalid": {reason: n}}``.

    Every record is checked with :func:`ingestion.contract.check_submission` before anything is sent.
    A file with invalid records is refused (:class:`LeapError` naming the reasons and the first invalid
    record) unless ``allow_invalid`` or ``skip_invalid``: then the invalid records are sent too (the
    ingestion dead-letters them with their reason, keeping one record of bad input), or dropped with
    ``skip_invalid``. A CSV whose header does not match the format is refused before any row is read.
    """
    from ingestion.contract import Rejected, check_submission
    from ingestion.partner_files import read_partner_file
    from leap.instrument import load_catalog

    catalog = load_catalog()
    invalid: Counter = Counter()
    records, first = [], None
    for number, (key, value) in enumerate(read_partner_file(path, fmt, catalog), start=1):
        try:
            check_submission(value, catalog)
        except Rejected as exc:
            invalid[exc.reason] += 1
            first = first or f"record {number}: {exc.reason}: {exc.detail}"
            if skip_invalid:
                continue
        records.append((key, value))
    n_invalid = sum(invalid.values())
    if n_invalid and not (allow_invalid or skip_invalid):
        counts = ", ".join(f"{reason} {n}" for reason, n in sorted(invalid.items()))
        raise LeapError(f"{n_invalid} of {len(records)} records in {path} are invalid ({counts}); first: {first}; "
                        "nothing was produced",
                        hint="fix the file, or send the valid records anyway with --allow-invalid (the invalid "
                             "ones are dead-lettered) or --skip-invalid (they are dropped)")
    return records, {"valid": len(records) - (0 if skip_invalid else n_invalid), "invalid": dict(invalid)}
