"""A log-end lookup whose request is lost (the broker went away mid-drain) is given up after the ingestion
consumer's request timeout and asked again, not waited on for kafka-python's default of 305 s (seen once:
a bounded drain hung 305 s on a connection reset, then failed with "Failed to get offsets by timestamps")."""

from __future__ import annotations

import dataclasses
import time

import pytest

pytestmark = [pytest.mark.broker, pytest.mark.slow]


def test_a_lost_log_end_lookup_is_given_up_and_means_not_caught_up(tansu, monkeypatch, caplog):
    from ingestion import consumer
    from ingestion.embedded import embedded_broker

    monkeypatch.setattr(consumer, "REQUEST_TIMEOUT_MS", 6000)  # the rule, at a test's scale
    settings = dataclasses.replace(tansu, session_timeout_ms=1000)
    ingestor = consumer.Ingestor(settings, workers=0, standalone=True)
    ingestor.open()
    try:
        assert ingestor.consumer.config["request_timeout_ms"] == 6000
        ingestor.consumer.poll(timeout_ms=2000)  # a fetch: Tansu's high watermark (see Ingestor._caught_up)
        assert ingestor._caught_up()  # an empty topic, the broker answering
        embedded_broker(settings).stop()
        t = time.monotonic()
        assert ingestor._caught_up() is False  # no answer: not known to be caught up, and no exception
        assert time.monotonic() - t < 20
        assert "no answer to the log-end lookup within 6000 ms" in caplog.text
    finally:
        ingestor.consumer.close(autocommit=False)  # the broker is gone: nothing to flush, no producer to wait on
        ingestor.writer.shutdown(wait=True)
