"""Deterministic test streams of submissions, and producing them (helpers, not fixtures)."""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass, field

from ingestion.broker import make_producer
from leap.instrument import load_catalog


@dataclass
class Stream:
    """What a test produced, to reconcile against the lake and the dead-letter topic."""

    records: list[tuple[bytes, bytes]] = field(default_factory=list)
    valid_ids: set[str] = field(default_factory=set)
    events: dict[str, dict] = field(default_factory=dict)
    malformed: dict[int, str] = field(default_factory=dict)  # index in records -> expected reason
    resubmitted: int = 0

    def valid_ids_in(self, n: int) -> set[str]:
        """The submission ids of the valid records among the first ``n`` (what a partly sent stream holds)."""
        return {json.loads(v)["submission_id"] for i, (_, v) in enumerate(self.records[:n]) if i not in self.malformed}


MALFORMED = [
    (lambda e: b"{\"submission_id\": ", "invalid_json"),
    (lambda e: json.dumps({**e, "term": "summer"}).encode(), "schema_violation"),
    (lambda e: json.dumps({**e, "instrument": "parent"}).encode(), "unknown_instrument"),
    (lambda e: json.dumps({**e, "responses": {"t_bogus": 1}}).encode(), "unknown_item"),
    (lambda e: json.dumps({**e, "responses": {next(iter(e["responses"])): 9}}).encode(), "category_out_of_range"),
]


def make_stream(n: int, *, seed: int = 0, malformed_every: int = 0, resubmit_every: int = 0,
                schools: int = 40) -> Stream:
    """A small deterministic stream of teacher/student submissions over fall and spring."""
    rng = random.Random(seed)
    catalog = load_catalog()
    stream = Stream()
    for i in range(n):
        name = "teacher" if i % 3 else "student"
        ins = catalog.latest(name)
        school = f"SCH-{rng.randrange(schools):04d}"
        term = rng.choice(["fall", "spring"])
        event = {
            "submission_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "instrument": name, "instrument_version": ins.version, "school_id": school,
            "respondent_id": f"{name[0].upper()}-{school}-{i}", "school_year": "2024-25", "term": term,
            "submitted_at": "2024-10-01T12:00:00Z" if term == "fall" else "2025-04-01T12:00:00+02:00",
            "grade_band": rng.choice(["elementary", "middle", "high"]), "sample": "leap_network",
            "responses": {item: rng.choice([0, 1, 2, 3, 4, 4, 3, None]) for item in ins.item_ids},
        }
        value = json.dumps(event).encode()
        if malformed_every and i % malformed_every == malformed_every - 1:
            make, reason = MALFORMED[(i // malformed_every) % len(MALFORMED)]
            stream.malformed[len(stream.records)] = reason
            stream.records.append((school.encode(), make(event)))
            continue
        stream.records.append((school.encode(), value))
        stream.valid_ids.add(event["submission_id"])
        stream.events[event["submission_id"]] = event
        if resubmit_every and i % resubmit_every == 0:
            stream.records.append((school.encode(), value))
            stream.resubmitted += 1
    return stream


def produce(settings, records) -> None:
    producer = make_producer(settings)
    for key, value in records:
        producer.send(settings.topic, key=key, value=value)
    producer.flush()
    producer.close(timeout=30)


class Trickle:
    """Produce records at a steady rate on a thread until they run out or :meth:`stop`; remember which
    ones the broker acknowledged (``acks=all``) and which failed, so a test can resend the failures."""

    def __init__(self, settings, records, per_second: int = 400, **producer_config):
        import threading

        self.settings, self.records, self.per_second = settings, records, per_second
        self.producer_config = producer_config
        self.acked: set[int] = set()
        self.failed: set[int] = set()
        self.sent = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Trickle:
        self._thread.start()
        return self

    def _run(self) -> None:
        import time

        producer = make_producer(self.settings, **{"linger_ms": 5, **self.producer_config})
        for i, (key, value) in enumerate(self.records):
            fut = producer.send(self.settings.topic, key=key, value=value)
            fut.add_callback(lambda _m, i=i: self.acked.add(i))
            fut.add_errback(lambda _e, i=i: self.failed.add(i))
            self.sent = i + 1
            if i % 50 == 49:
                if self._stop.is_set():
                    break
                time.sleep(50 / self.per_second)
        producer.flush(timeout=180)
        producer.close(timeout=30)

    def stop(self, timeout: float = 300) -> None:
        self._stop.set()
        self.join(timeout)

    def join(self, timeout: float = 300) -> None:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the producer did not finish"

    def unacknowledged(self) -> list[tuple[bytes, bytes]]:
        """Records sent but not acknowledged (failed, or their fate unknown)."""
        return [self.records[i] for i in range(self.sent) if i not in self.acked]
