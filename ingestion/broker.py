"""The Kafka side: reaching the broker, the topics, producers and the cluster id.

Everything here speaks the Kafka protocol through kafka-python, so the same code runs against the
embedded broker (:mod:`ingestion.embedded`: Apache Kafka by default, Tansu on machines without
Java) and any Kafka cluster named by ``KAFKA_BOOTSTRAP_SERVERS``.

Client settings that matter:
- producers use ``acks=all`` and idempotence (no duplicates or reordering from retries); only on
  Tansu, which cannot read back idempotent batches, idempotence is off (``Settings.on_tansu``) —
  duplicates from retries are harmless there because ingestion stores each ``submission_id`` once;
- no client creates a topic by asking for its metadata; the platform creates both topics with
  their partition counts (:func:`ensure_topics`), and checks them when they exist;
- offsets are committed by the ingestion sink only after its files are durable.
"""

from __future__ import annotations

import logging
import socket
import time

from leap.config import Settings
from leap.errors import LeapError

log = logging.getLogger(__name__)


def broker_hint(settings: Settings) -> str:
    """What to do when the configured broker does not answer."""
    if settings.embedded:
        return "start the embedded broker with `leap broker start`, or set KAFKA_BOOTSTRAP_SERVERS to a running Kafka"
    return (f"check that the Kafka at KAFKA_BOOTSTRAP_SERVERS={settings.bootstrap_servers} is running and "
            "reachable from here, or unset KAFKA_BOOTSTRAP_SERVERS to use the embedded broker")


def parse_bootstrap(bootstrap: str) -> list[tuple[str, int]]:
    """``host:port[,host:port…]`` as pairs; a clear error for anything else."""
    out = []
    for part in bootstrap.split(","):
        host, sep, port = part.strip().rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise LeapError(f"KAFKA_BOOTSTRAP_SERVERS={bootstrap!r}: {part.strip()!r} is not host:port",
                            hint="give host:port pairs separated by commas, e.g. kafka1:9092,kafka2:9092")
        out.append((host.strip("[]"), int(port)))
    return out


def port_open(bootstrap: str, timeout: float = 0.5) -> bool:
    for host, port in parse_bootstrap(bootstrap):
        try:
            with socket.create_connection((host, port), timeout=timeout):
                return True
        except OSError:
            continue
    return False


def require_broker(settings: Settings, timeout: float = 5.0) -> None:
    """Fail with a clear message when no broker answers at the configured address."""
    deadline = time.monotonic() + timeout
    while not port_open(settings.bootstrap_servers):
        if time.monotonic() > deadline:
            where = "embedded broker" if settings.embedded else "Kafka"
            raise LeapError(f"no {where} answers at {settings.bootstrap_servers}", hint=broker_hint(settings),
                            exit_code=3)
        time.sleep(0.2)


# --------------------------------------------------------------------------- topics and clients


def ensure_topics(settings: Settings, partitions: int | None = None) -> None:
    """Create the submissions and dead-letter topics if they do not exist, and check their partitions.

    A topic that exists with another partition count than asked is an error, not a silent
    success: a client's metadata request once auto-created the topic with the broker's default
    count (4 instead of 6) and nobody noticed.
    """
    from kafka.admin import KafkaAdminClient, NewTopic
    from kafka.errors import KafkaError, TopicAlreadyExistsError

    from ingestion.dlq import DLQ_RETENTION_DAYS

    require_broker(settings)
    parts = partitions or settings.topic_partitions
    replication = settings.topic_replication
    # On a cluster, acks=all waits for min.insync.replicas copies: 2 of 3 survives one lost broker.
    configs = {"min.insync.replicas": str(min(2, replication - 1))} if replication >= 3 else {}
    wanted = {settings.topic: parts, settings.dlq_topic: max(1, parts // 2)}
    # the dead letters hold raw respondent ids: kept DLQ_RETENTION_DAYS (docs/operations.md#dead-letters)
    extra = {settings.dlq_topic: {"retention.ms": str(DLQ_RETENTION_DAYS * 24 * 3600 * 1000)}}
    admin = KafkaAdminClient(bootstrap_servers=settings.bootstrap_servers, client_id="leap-admin",
                             request_timeout_ms=15000)
    try:
        for name, n in wanted.items():
            try:
                admin.create_topics([NewTopic(name, num_partitions=n, replication_factor=replication,
                                              topic_configs={**configs, **extra.get(name, {})})])
                log.info("created topic %s with %d partitions", name, n)
            except TopicAlreadyExistsError:
                pass
            except KafkaError as exc:
                if "already" not in str(exc).lower():
                    raise LeapError(f"cannot create topic {name}: {exc}", hint=broker_hint(settings)) from None
    finally:
        admin.close()
    _check_partition_counts(settings, wanted, explicit=partitions is not None)


def _check_partition_counts(settings: Settings, wanted: dict[str, int], explicit: bool) -> None:
    consumer = metadata_consumer(settings)
    try:
        deadline = time.monotonic() + 10
        while True:
            found = {t: len(p) for t in wanted if (p := consumer.partitions_for_topic(t))}
            if set(found) == set(wanted) or time.monotonic() > deadline:
                break
            time.sleep(0.1)  # a topic created a moment ago may not be in the metadata yet
            consumer._client.cluster.request_update()
    finally:
        consumer.close()
    for name, n in wanted.items():
        if name not in found:
            raise LeapError(f"topic {name} was not found on {settings.bootstrap_servers} after creating it",
                            hint=broker_hint(settings))
        if found[name] != n:
            asked = "--partitions" if explicit else f"LEAP_TOPIC_PARTITIONS (or its default {settings.topic_partitions})"
            raise LeapError(f"topic {name} exists with {found[name]} partitions, but {asked} asks for {n}",
                            hint="set LEAP_TOPIC_PARTITIONS to the topic's count, or recreate the topic with the "
                                 "count you want (the lake is the record: a new topic only re-reads what is new)")


def make_producer(settings: Settings, **overrides):
    """A producer with ``acks=all`` and idempotence (off on Tansu only, see the module docstring)."""
    from kafka import KafkaProducer

    require_broker(settings)
    config = dict(
        bootstrap_servers=settings.bootstrap_servers,
        client_id="leap-producer",
        acks="all",
        enable_idempotence=not settings.on_tansu,
        linger_ms=10,
        batch_size=512 * 1024,
        max_request_size=8 * 1024 * 1024,
        allow_auto_create_topics=False,
    )
    if settings.on_tansu:
        config["retries"] = 5
    config.update(overrides)
    return KafkaProducer(**config)


def metadata_consumer(settings: Settings, **config):
    """A consumer without a group for metadata and offsets; it never auto-creates a topic."""
    from kafka import KafkaConsumer

    return KafkaConsumer(bootstrap_servers=settings.bootstrap_servers, allow_auto_create_topics=False,
                         **{"client_id": "leap-meta", "enable_auto_commit": False, **config})


def cluster_id(settings: Settings) -> str:
    """The Kafka cluster id from the metadata (stable for the cluster's life; on Tansu new at
    every start, because its topics live in memory)."""
    require_broker(settings)
    consumer = metadata_consumer(settings)
    try:
        consumer.topics()  # forces a metadata request
        # kafka-python keeps the MetadataResponse cluster id on its cluster object
        return consumer._client.cluster.cluster_id or "unknown"
    finally:
        consumer.close()


def partitions_for(settings: Settings, topic: str, timeout: float = 10.0) -> list[int]:
    """Partition ids of a topic, from a throwaway consumer's metadata."""
    consumer = metadata_consumer(settings)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            parts = consumer.partitions_for_topic(topic)
            if parts:
                return sorted(parts)
            time.sleep(0.2)
        raise LeapError(f"topic {topic} does not exist on {settings.bootstrap_servers}",
                        hint="create it with `leap broker topics`")
    finally:
        consumer.close()
