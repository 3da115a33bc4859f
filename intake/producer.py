"""The intake service's Kafka side: one producer per server process, a readiness probe, async acks.

The producer is :func:`ingestion.broker.make_producer`'s (``acks=all``, idempotence, no topic
auto-creation), keyed by school id. A request waits for its own record's acknowledgement without
blocking the event loop: the producer's sender thread completes the kafka-python future and hands the
result to the loop (:meth:`SubmissionProducer.send`). Concurrent requests share batches through
``linger_ms``; nothing flushes per request.

A background thread asks the cluster for its topics every ``PROBE_SECONDS``; the service is ready while
the last answer that named the submissions topic is recent (``READY_FOR_SECONDS``). The producer itself
is made by that thread the first time Kafka answers, so the process starts (and ``/healthz`` answers)
while Kafka is still down. A probe that hangs on a dead broker only makes readiness stale: 503.

kafka-python logs every record's key and value at DEBUG (``kafka.producer.kafka``): the service keeps
that logger at INFO whatever the log level, since the values hold raw respondent ids.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time

from leap.config import Settings

log = logging.getLogger(__name__)

PROBE_SECONDS = 1.0
READY_FOR_SECONDS = 5.0
RECORD_LOGGER = "kafka.producer.kafka"


class BrokerUnavailable(Exception):
    """Kafka did not take the record. ``definite``: the producer never had it (not ready, buffer full);
    otherwise (an error or no acknowledgement in time) it may still have been written."""

    def __init__(self, message: str, definite: bool = True):
        super().__init__(message)
        self.definite = definite


class SubmissionProducer:
    def __init__(self, settings: Settings, linger_ms: int = 5):
        self.settings, self.linger_ms = settings, linger_ms
        self._producer = None
        self._last_ok = -1e9
        self._stop = threading.Event()
        self._probe = threading.Thread(target=self._probe_loop, name="intake-kafka-probe", daemon=True)
        logging.getLogger(RECORD_LOGGER).setLevel(max(logging.INFO, logging.getLogger(RECORD_LOGGER).level))

    def start(self) -> None:
        self._probe.start()

    @property
    def ready(self) -> bool:
        return self._producer is not None and time.monotonic() - self._last_ok < READY_FOR_SECONDS

    async def send(self, key: bytes, value: bytes, timeout: float) -> None:
        """Produce one record and wait for Kafka's acknowledgement (``acks=all``)."""
        if not self.ready:
            raise BrokerUnavailable("Kafka does not answer")
        loop = asyncio.get_running_loop()
        acked = loop.create_future()
        try:
            pending = self._producer.send(self.settings.topic, key=key, value=value)
        except Exception as exc:  # noqa: BLE001 - buffer full, metadata timeout: the record was not taken
            raise BrokerUnavailable(f"{type(exc).__name__}") from None
        pending.add_callback(lambda _meta: loop.call_soon_threadsafe(_settle, acked, None))
        pending.add_errback(lambda exc: loop.call_soon_threadsafe(_settle, acked, exc))
        try:
            error = await asyncio.wait_for(acked, timeout)
        except TimeoutError:
            raise BrokerUnavailable("no acknowledgement in time", definite=False) from None
        if error is not None:  # a timed-out request may still have been written: not definite
            raise BrokerUnavailable(f"{type(error).__name__}", definite=False)

    def close(self, timeout: float = 30.0) -> None:
        """Stop probing; flush what is buffered (graceful shutdown) and close."""
        self._stop.set()
        if self._producer is not None:
            self._producer.flush(timeout=timeout)
            self._producer.close(timeout=timeout)
            self._producer = None

    # ----------------------------------------------------------------------- readiness
    def _probe_loop(self) -> None:
        consumer = None
        while not self._stop.is_set():
            try:
                consumer = consumer or self._metadata_client()
                if self.settings.topic in consumer.topics():
                    self._producer = self._producer or self._make_producer()
                    self._last_ok = time.monotonic()
            except Exception as exc:  # noqa: BLE001 - any failure means "not ready"; retry with a new client
                log.warning("Kafka at %s does not answer: %s", self.settings.bootstrap_servers, type(exc).__name__)
                consumer = _close_quietly(consumer)
            self._stop.wait(PROBE_SECONDS)
        _close_quietly(consumer)

    def _metadata_client(self):
        from ingestion.broker import metadata_consumer

        return metadata_consumer(self.settings, client_id="leap-intake-probe", request_timeout_ms=3000,
                                 api_version_auto_timeout_ms=3000)

    def _make_producer(self):
        from ingestion.broker import make_producer

        # A record not delivered within about ACK_TIMEOUT_SECONDS fails rather than linger on after its request
        # was answered 503 (Kafka requires delivery >= linger + request timeout).
        producer = make_producer(self.settings, client_id="leap-intake", linger_ms=self.linger_ms,
                                 max_block_ms=2000, request_timeout_ms=10000,
                                 delivery_timeout_ms=self.linger_ms + 12000)
        _await_producer_id(producer)
        log.info("producing to %s on %s", self.settings.topic, self.settings.bootstrap_servers)
        return producer


def _await_producer_id(producer, timeout: float = 10.0) -> None:
    """Wait until an idempotent producer holds its producer id. kafka-python's close() waits out its whole
    timeout when it comes while that first request is in flight (a service stopped right after it
    started); with the id in hand it closes at once. (kafka-python has no public call for this.)"""
    manager = getattr(producer, "_transaction_manager", None)
    deadline = time.monotonic() + timeout
    while manager is not None and not manager.has_producer_id() and time.monotonic() < deadline:
        time.sleep(0.02)


def _settle(future: asyncio.Future, error: BaseException | None) -> None:
    if not future.done():  # the request may have timed out and gone
        future.set_result(error)


def _close_quietly(client) -> None:
    if client is not None:
        try:
            client.close()
        except Exception:  # noqa: BLE001 - closing a client of a dead broker
            pass
    return None
