"""Deterministic test streams of submissions, and producing them (helpers, not fixtures)."""

from __future__ import annotations

import json
import random
import socket
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field

from ingestion.broker import make_producer
from leap.instrument import load_catalog

TEST_KEY = "11" * 32


@contextmanager
def module_platform(data_dir, key_hex: str = "44" * 32):
    """A running embedded broker with the topics, in an isolated LEAP_DATA_DIR, for module-scoped fixtures
    (the function-scoped ``platform`` fixture in conftest.py does the same per test)."""
    import pytest

    from ingestion.broker import embedded_broker, ensure_topics
    from leap.config import load_settings

    mp = pytest.MonkeyPatch()
    mp.setenv("LEAP_DATA_DIR", str(data_dir))
    mp.setenv("LEAP_EMBEDDED_BROKER_PORT", str(free_port()))
    mp.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    mp.setenv("LEAP_PSEUDONYM_KEY", key_hex)
    settings = load_settings()
    broker = embedded_broker(settings)
    broker.start()
    try:
        ensure_topics(settings)
        yield settings, broker
    finally:
        broker.stop()
        mp.undo()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Stream:
    """What a test produced, to reconcile against the lake and the dead-letter topic."""

    records: list[tuple[bytes, bytes]] = field(default_factory=list)
    valid_ids: set[str] = field(default_factory=set)
    events: dict[str, dict] = field(default_factory=dict)
    malformed: dict[int, str] = field(default_factory=dict)  # index in records -> expected reason
    resubmitted: int = 0


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
    producer.close()
