"""Dead-letter topic writer: the original bytes, a reason code and where they came from.

Headers follow the Kafka Connect convention of carrying error context in headers:
``leap.dlq.reason`` (a code from :data:`ingestion.contract.REASONS`), ``leap.dlq.detail``,
``leap.dlq.source.topic``, ``leap.dlq.source.partition``, ``leap.dlq.source.offset``.
Delivery is at-least-once: after a crash a rejected record may be dead-lettered again;
(source partition, source offset) identifies it.
"""

from __future__ import annotations

from ingestion.decode import Reject


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
