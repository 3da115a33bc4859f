"""Settings read from the environment, in one place.

Every part of the platform reads its configuration through :func:`load_settings`, so the
same code runs on the embedded default (one machine) and in production (docker-compose,
Kafka cluster, object storage) by changing environment variables only.

Environment variables (all optional):

``KAFKA_BOOTSTRAP_SERVERS``
    Kafka bootstrap servers. Unset: the embedded broker started by ``leap broker start``.
``LEAP_DATA_DIR``
    Root of the lake, warehouse and outputs (default ``./data``).
``LEAP_EMBEDDED_BROKER``
    Which embedded broker ``leap broker start`` runs: ``kafka`` (default: Apache Kafka in KRaft
    mode from the jars ``make setup`` fetched, data under ``$LEAP_DATA_DIR/kafka``, durable) or
    ``tansu`` (memory-only, for machines without Java 17).
``LEAP_EMBEDDED_BROKER_PORT``
    Port of the embedded broker (default 19092).
``LEAP_KAFKA_HEAP``
    Maximum JVM heap of the embedded Apache Kafka (default ``512m``).
``LEAP_TOPIC_PREFIX``
    Prepended to both topic names (default empty), e.g. ``staging.`` on a Kafka cluster shared by
    several deployments; the test suite gives every test its own prefix on one broker.
``LEAP_TOPIC_PARTITIONS``
    Partitions of the submissions topic when the platform creates it (default 6).
``LEAP_TOPIC_REPLICATION``
    Replication factor of the topics the platform creates (default 1); at 3 or more the topics
    get ``min.insync.replicas=2``, so an acknowledged (``acks=all``) record survives a lost broker.
``LEAP_PSEUDONYM_KEY``
    Hex key for the respondent pseudonymization HMAC. Unset: a key file under
    ``$LEAP_DATA_DIR/secrets/`` is created on first use (embedded default only).
``LEAP_FLUSH_RECORDS`` / ``LEAP_FLUSH_SECONDS``
    Micro-batch size per Kafka partition and maximum age before a batch is written.
``LEAP_CONSUMER_GROUP``
    Consumer group of the ingestion service (default ``leap-ingestion``).
``LEAP_CONSUMER_SESSION_TIMEOUT_MS``
    Consumer group session timeout (default 10000): how soon a crashed consumer's
    partitions move to the others.
``LEAP_CONSUMER_INSTANCE_ID``
    Static group membership (KIP-345) for the ingestion service: a restarted instance with
    the same id takes its partitions back at once instead of waiting out a rebalance.
``LEAP_MIN_CELL_N``
    Minimum respondents in a reported cell (default 10).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from leap.layout import Layout

SUBMISSIONS_TOPIC = "leap.survey-submissions.v1"
DLQ_TOPIC = "leap.survey-submissions.dlq.v1"
DEFAULT_EMBEDDED_PORT = 19092
EMBEDDED_BROKERS = ("kafka", "tansu")
_TOPIC_PREFIX = re.compile(r"[A-Za-z0-9._-]{0,100}")


def _int_env(name: str, default: int) -> int:
    from leap.errors import LeapError

    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise LeapError(f"{name}={raw!r} is not a whole number", hint=f"unset {name} or give an integer") from None


def _float_env(name: str, default: float) -> float:
    from leap.errors import LeapError

    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise LeapError(f"{name}={raw!r} is not a number", hint=f"unset {name} or give a number") from None


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    bootstrap_servers: str
    embedded: bool
    embedded_port: int
    embedded_broker: str = "kafka"  # which broker `leap broker start` runs (EMBEDDED_BROKERS)
    kafka_heap: str = "512m"  # maximum JVM heap of the embedded Apache Kafka
    topic: str = SUBMISSIONS_TOPIC
    dlq_topic: str = DLQ_TOPIC
    topic_partitions: int = 6
    topic_replication: int = 1  # replication factor when the platform creates the topics
    consumer_group: str = "leap-ingestion"
    flush_records: int = 50000
    flush_seconds: float = 2.0
    min_cell_n: int = 10
    min_classroom_n: int = 5  # the classroom view of a school report (YouthTruth's rule: fewer than 5 hidden)
    min_response_rate: float = 0.5  # a school report below it is marked (5Essentials' 50 % rule)
    session_timeout_ms: int = 10000
    instance_id: str | None = None
    duckdb_memory: str = "2GB"  # DuckDB's memory limit in dbt builds and every job that opens DuckDB

    @property
    def on_tansu(self) -> bool:
        """The embedded Tansu broker: memory-only, no idempotent producers (see ingestion.embedded.tansu)."""
        return self.embedded and self.embedded_broker == "tansu"

    def duckdb(self, path: str | Path | None = None, read_only: bool = False):
        """A DuckDB connection under the platform's memory limit (``LEAP_DUCKDB_MEMORY``): DuckDB's own
        default is 80% of the machine's memory, which a publish or export of ten million submissions'
        marts took (3.4-4.2 GB); under the limit it spills to disk instead."""
        import duckdb

        return duckdb.connect(str(path) if path is not None else ":memory:", read_only=read_only,
                              config={"memory_limit": self.duckdb_memory})

    @property
    def layout(self) -> Layout:
        """Every path under the data directory (:mod:`leap.layout`)."""
        return Layout(self.data_dir)


def load_settings() -> Settings:
    data_dir = Path(os.environ.get("LEAP_DATA_DIR") or "./data").expanduser().resolve()
    port = _int_env("LEAP_EMBEDDED_BROKER_PORT", DEFAULT_EMBEDDED_PORT)
    servers = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "").strip()
    embedded = servers == ""
    if embedded:
        servers = f"127.0.0.1:{port}"
    prefix = _topic_prefix()
    return Settings(
        data_dir=data_dir,
        bootstrap_servers=servers,
        embedded=embedded,
        embedded_port=port,
        embedded_broker=_embedded_kind(),
        kafka_heap=os.environ.get("LEAP_KAFKA_HEAP", "").strip() or "512m",
        topic=prefix + SUBMISSIONS_TOPIC,
        dlq_topic=prefix + DLQ_TOPIC,
        topic_partitions=_int_env("LEAP_TOPIC_PARTITIONS", 6),
        topic_replication=_int_env("LEAP_TOPIC_REPLICATION", 1),
        consumer_group=os.environ.get("LEAP_CONSUMER_GROUP") or "leap-ingestion",
        flush_records=_int_env("LEAP_FLUSH_RECORDS", 50000),
        flush_seconds=_float_env("LEAP_FLUSH_SECONDS", 2.0),
        min_cell_n=_int_env("LEAP_MIN_CELL_N", 10),
        min_classroom_n=_int_env("LEAP_MIN_CLASSROOM_N", 5),
        min_response_rate=_float_env("LEAP_MIN_RESPONSE_RATE", 0.5),
        session_timeout_ms=_int_env("LEAP_CONSUMER_SESSION_TIMEOUT_MS", 10000),
        instance_id=os.environ.get("LEAP_CONSUMER_INSTANCE_ID") or None,
        duckdb_memory=os.environ.get("LEAP_DUCKDB_MEMORY", "").strip() or "2GB",
    )


def _embedded_kind() -> str:
    from leap.errors import LeapError

    kind = (os.environ.get("LEAP_EMBEDDED_BROKER") or "kafka").strip().lower()
    if kind not in EMBEDDED_BROKERS:
        raise LeapError(f"LEAP_EMBEDDED_BROKER={kind!r} is not one of {', '.join(EMBEDDED_BROKERS)}",
                        hint="unset it for Apache Kafka, or set it to tansu on a machine without Java 17")
    return kind


def _topic_prefix() -> str:
    from leap.errors import LeapError

    prefix = os.environ.get("LEAP_TOPIC_PREFIX", "").strip()
    if not _TOPIC_PREFIX.fullmatch(prefix):
        raise LeapError(f"LEAP_TOPIC_PREFIX={prefix!r} is not a valid start of a Kafka topic name",
                        hint="use at most 100 of the characters a-z A-Z 0-9 . _ -")
    return prefix
