"""Schemathesis against the committed OpenAPI description (``intake/openapi.json``), over HTTP to the
service served by uvicorn on loopback with Kafka behind it: generated requests to every operation, valid
(positive) and invalid (negative) by the description. No answer is a 5xx, every status and content type
is one the description documents, JSON bodies and headers match it, invalid input is refused with a
4xx, requests without the access code are refused, unsupported methods get 405.

Hypothesis drives each operation's strategy directly: schemathesis' pytest plugin (``from_fixture``)
does not run under pytest 9.
"""

from __future__ import annotations

import json

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode, checks
from schemathesis.core.failures import FailureGroup
from support.intake import WINTER, clock, issue, served
from support.kafka import shared_platform

from intake.access import Survey
from intake.app import OPENAPI_FILE, create_app
from intake.config import IntakeConfig

SURVEY = Survey("SCH-0001", "teacher", *WINTER)
CHECKS = [checks.not_a_server_error, checks.status_code_conformance, checks.content_type_conformance,
          checks.response_schema_conformance, checks.response_headers_conformance,
          checks.negative_data_rejection, checks.ignored_auth, checks.unsupported_method]
# Limits high enough that the generated traffic reaches the routes, not only the 429
UNLIMITED = IntakeConfig(ip_rate=1e6, ip_burst=1_000_000, code_rate=1e6, code_burst=1_000_000)
OPERATIONS = {op.label: op for op in (r.ok() for r in schemathesis.openapi.from_path(OPENAPI_FILE).get_all_operations())}


@pytest.fixture(scope="module")
def intake_server(kafka_server, tmp_path_factory):
    with shared_platform(kafka_server, tmp_path_factory.mktemp("schemathesis") / "data") as settings:
        code = issue(settings, SURVEY)[0]
        with served(create_app(settings, UNLIMITED, clock())) as base:
            yield base, code


# Invalid requests exist only where the description constrains something: the request bodies. Requests at
# random almost never name a real survey (404) or a known instrument and its items (422), so each operation
# also runs "anchored": path parameters of the test's survey link, or an event body moved onto the access
# code's survey with a known item, the rest still generated (then 202s happen, and their body is checked).
# (An invalid body moved onto the survey might become valid: only valid bodies are anchored.)
RUNS = [(label, mode, anchor) for label in OPERATIONS for mode in GenerationMode for anchor in (False, True)
        if (mode is GenerationMode.POSITIVE or label.startswith("POST"))
        and (not anchor or "{" in label or (label == "POST /v1/submissions" and mode is GenerationMode.POSITIVE))]
LINK = {"school_id": SURVEY.school_id, "instrument": SURVEY.instrument, "school_year": SURVEY.school_year,
        "term": SURVEY.term}


def anchored(case):
    if isinstance(case.body, dict):
        case.body.update(instrument="teacher", instrument_version="1.0", school_id=SURVEY.school_id,
                         school_year=SURVEY.school_year, term=SURVEY.term, submitted_at="2027-01-20T10:00:00Z",
                         responses={"t_lf01": 2, "t_ll04": None})
    return case


def strategy(label: str, mode: GenerationMode, anchor: bool):
    op = OPERATIONS[label]
    if anchor and "{" in label:
        return op.as_strategy(generation_mode=mode, path_parameters=LINK)
    return op.as_strategy(generation_mode=mode).map(anchored) if anchor else op.as_strategy(generation_mode=mode)


@pytest.mark.parametrize(("label", "mode", "anchor"), RUNS,
                         ids=[f"{lb} {m.value}{' anchored' if a else ''}" for lb, m, a in RUNS])
def test_the_service_keeps_its_openapi_description(intake_server, label, mode, anchor):
    base, code = intake_server
    examples = 150 if label == "POST /v1/submissions" else 50

    @given(case=strategy(label, mode, anchor))
    @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck), database=None,
              derandomize=True)  # the same requests every run
    def call(case):
        case.call_and_validate(base_url=base, headers={"X-Access-Code": code}, checks=CHECKS)

    call()


def test_the_checks_bite_on_an_undocumented_status(intake_server):
    """The same run against a description that forgets the 422 fails: the checks are not vacuous."""
    base, code = intake_server
    spec = json.loads(OPENAPI_FILE.read_text())
    del spec["paths"]["/v1/submissions"]["post"]["responses"]["422"]
    (op,) = [r.ok() for r in schemathesis.openapi.from_dict(spec).get_all_operations()
             if r.ok().label == "POST /v1/submissions"]

    @given(case=op.as_strategy())
    @settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck), database=None,
              derandomize=True)
    def call(case):
        case.call_and_validate(base_url=base, headers={"X-Access-Code": code}, checks=CHECKS)

    with pytest.raises(FailureGroup) as failure:
        call()
    assert "Undocumented status code" in str(failure.value) and "Received: 422" in str(failure.value)
