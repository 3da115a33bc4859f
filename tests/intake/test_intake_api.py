"""The JSON API against the session's Apache Kafka: 202 once acknowledged (key = school id, the bytes as
sent), resends stored once by the ingestion's registry, the dead-letter reason codes for malformed events,
health and readiness, no respondent id in any log line, and a shutdown that flushes the producer."""

from __future__ import annotations

import asyncio
import logging
import time

import orjson
import pytest
from support.intake import (
    RAW_RESPONDENT,
    WINTER,
    end_offsets,
    event,
    intake_client,
    issue,
    open_survey,
    topic_records,
)
from support.kafka import shared_platform, start_kafka
from support.lake import raw_rows

from ingestion.consumer import run_ingestion
from ingestion.contract import REASONS, Rejected, check_submission
from intake.access import Survey
from intake.config import IntakeConfig
from intake.producer import SubmissionProducer

TEACHERS = Survey("SCH-0042", "teacher", *WINTER)


def post(client, body, code: str | None):
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    headers = {"Content-Type": "application/json", **({"X-Access-Code": code} if code else {})}
    return client.post("/v1/submissions", content=data, headers=headers)


def test_an_event_is_acknowledged_by_kafka_then_answered_202(platform):
    code = issue(platform, TEACHERS)[0]
    body = orjson.dumps(event(TEACHERS))
    with intake_client(platform) as client:
        r = post(client, body, code)
    assert r.status_code == 202, r.text
    assert r.json() == {"submission_id": orjson.loads(body)["submission_id"], "status": "accepted"}
    assert topic_records(platform, 1) == [(b"SCH-0042", body)], "key = school id, the bytes as sent"


def test_resending_the_same_submission_is_answered_202_and_stored_once(platform):
    code = issue(platform, TEACHERS)[0]
    same, other = event(TEACHERS, seed=1), event(TEACHERS, seed=2)
    with intake_client(platform) as client:
        statuses = [post(client, e, code).status_code for e in (same, same, other, same)]
    assert statuses == [202] * 4
    assert end_offsets(platform) == 4, "every resend is produced again"
    stats = run_ingestion(platform, "bounded", workers=0, progress=False, standalone=True)
    assert stats.landed == 2 and stats.duplicates == 2
    ids = sorted(r[0] for r in raw_rows(platform.data_dir, "submission_id"))
    assert ids == sorted([same["submission_id"], other["submission_id"]]), "the registry kept one copy"


def _malformed() -> dict[str, bytes]:
    good = event(TEACHERS)
    cases = {"not json": b"{oops", "a list": b"[1, 2]", "no responses": {k: v for k, v in good.items()
                                                                      if k != "responses"},
             "unknown instrument": {**good, "instrument": "parent"},
             "unknown item": {**good, "responses": {"t_zz01": 1}},
             "category out of range": {**good, "responses": {"t_lf01": 7}},
             "school year": {**good, "school_year": "2026-28"},
             "timestamp": {**good, "submitted_at": "2027-02-30T10:00:00Z"}}
    return {k: v if isinstance(v, bytes) else orjson.dumps(v) for k, v in cases.items()}


def test_malformed_events_are_refused_with_the_dead_letter_reasons_and_not_produced(platform):
    code = issue(platform, TEACHERS)[0]
    with intake_client(platform) as client:
        answers = {name: post(client, body, code) for name, body in _malformed().items()}
    for name, body in _malformed().items():
        with pytest.raises(Rejected) as expected:
            check_submission(body)
        r = answers[name]
        assert r.json()["error"] == expected.value.reason, name
        assert r.status_code == (400 if expected.value.reason == "invalid_json" else 422), name
    assert {r.json()["error"] for r in answers.values()} == set(REASONS), "every reason code is reachable"
    assert end_offsets(platform) == 0


def test_health_and_readiness_with_kafka(platform):
    with intake_client(platform) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        assert client.get("/readyz").json() == {"status": "ready"}


def test_without_kafka_the_process_is_up_but_not_ready_and_a_code_is_not_spent(leap_env):
    code = issue(leap_env, TEACHERS, single_use=True)[0]
    with intake_client(leap_env, ready=False) as client:
        assert client.get("/healthz").status_code == 200
        r = client.get("/readyz")
        assert r.status_code == 503 and r.json() == {"status": "not ready"}
        refused = post(client, event(TEACHERS), code)
        assert refused.status_code == 503 and refused.json()["error"] == "broker_unavailable"
        assert refused.headers["retry-after"] == "30"
        assert post(client, event(TEACHERS, seed=5), code).json()["error"] == "broker_unavailable", \
            "the single-use code was given back, not spent"


def test_no_log_line_carries_a_respondent_id_or_an_access_code(platform, caplog):
    logging.getLogger("kafka").setLevel(logging.DEBUG)  # as `leap -v` would: kafka-python logs record values
    caplog.set_level(logging.DEBUG)
    try:
        teacher_code = issue(platform, TEACHERS)[0]
        students = Survey("SCH-0042", "student", *WINTER)
        student_code = issue(platform, students, single_use=True)[0]
        with intake_client(platform) as client:
            assert post(client, event(TEACHERS), teacher_code).status_code == 202
            bad = {**event(TEACHERS, seed=3), "responses": {"t_lf01": 9}}
            assert post(client, bad, teacher_code).status_code == 422
            form = open_survey(client, students, student_code)
            assert form.status_code == 200
    finally:
        logging.getLogger("kafka").setLevel(logging.NOTSET)
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert any(r.name.startswith("kafka") and r.levelno == logging.DEBUG for r in caplog.records), "DEBUG was on"
    for secret in (RAW_RESPONDENT, teacher_code, student_code, teacher_code.replace("-", "")):
        assert secret not in text


def test_shutdown_flushes_what_the_producer_holds(platform):
    producer = SubmissionProducer(platform, linger_ms=60_000)  # records wait a minute for company
    producer.start()
    deadline = time.monotonic() + 30
    while not producer.ready:
        assert time.monotonic() < deadline
        time.sleep(0.1)

    async def send_then_shut_down():
        pending = asyncio.ensure_future(producer.send(b"SCH-0042", orjson.dumps(event(TEACHERS)), timeout=30))
        await asyncio.sleep(0.5)
        assert not pending.done(), "still lingering"
        await asyncio.get_running_loop().run_in_executor(None, producer.close)
        await asyncio.wait_for(pending, 5)

    asyncio.run(send_then_shut_down())
    assert end_offsets(platform) == 1


def test_the_configured_body_limit_holds_for_json(platform):
    code = issue(platform, TEACHERS)[0]
    body = orjson.dumps(event(TEACHERS))
    with intake_client(platform, IntakeConfig(max_body_bytes=len(body) - 1)) as client:
        r = post(client, body, code)
        assert r.status_code == 413 and r.json()["error"] == "body_too_large"
        assert post(client, body[:-1], code).json()["error"] == "invalid_json", "at the limit: read and judged"
    assert end_offsets(platform) == 0


@pytest.mark.broker  # its own Apache Kafka, stopped halfway
def test_readiness_follows_kafka_going_away(tmp_path):
    """Ready while Kafka answers; when its broker stops, /readyz turns 503 within seconds and submissions
    are refused with broker_unavailable (nothing half-taken), while /healthz still answers."""
    broker = start_kafka(tmp_path / "kafka")
    try:
        with shared_platform(broker, tmp_path / "data") as settings:
            code = issue(settings, TEACHERS)[0]
            with intake_client(settings) as client:
                assert post(client, event(TEACHERS), code).status_code == 202
                broker.stop()
                deadline = time.monotonic() + 30
                while client.get("/readyz").status_code != 503:
                    assert time.monotonic() < deadline, "still ready without Kafka"
                    time.sleep(0.2)
                refused = post(client, event(TEACHERS, seed=8), code)
                assert refused.status_code == 503 and refused.json()["error"] == "broker_unavailable"
                assert client.get("/healthz").status_code == 200
    finally:
        broker.stop()
