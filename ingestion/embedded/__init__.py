"""The embedded broker of the one-machine default (``KAFKA_BOOTSTRAP_SERVERS`` unset).

``LEAP_EMBEDDED_BROKER`` picks it: ``kafka`` (default) is Apache Kafka in KRaft mode from the jars
``make setup`` fetched (:mod:`ingestion.embedded.kafka`), durable under ``$LEAP_DATA_DIR/kafka``;
``tansu`` is the memory-only Tansu for machines without Java 17 (:mod:`ingestion.embedded.tansu`).
"""

from __future__ import annotations

from ingestion.embedded.kafka import KafkaBroker, NodeSpec
from ingestion.embedded.process import ManagedProcess
from ingestion.embedded.tansu import TansuBroker
from leap.config import Settings

__all__ = ["embedded_broker", "KafkaBroker", "TansuBroker", "ManagedProcess", "NodeSpec"]


def embedded_broker(settings: Settings) -> KafkaBroker | TansuBroker:
    """The embedded broker ``settings`` name (not started)."""
    if settings.embedded_broker == "tansu":
        return TansuBroker(settings.embedded_port, settings.layout.run)
    return KafkaBroker(settings.layout.kafka, settings.embedded_port, NodeSpec(heap=settings.kafka_heap))
