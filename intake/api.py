"""The JSON API: ``POST /v1/submissions``, ``/healthz`` and ``/readyz``.

``POST /v1/submissions`` takes one v1 event (the body as the consumer would read it from Kafka) with an
access code in the ``X-Access-Code`` header; it answers 202 with the submission id once Kafka has
acknowledged the record. Refusals carry ``{"error": <reason>, "detail": ...}``: the dead-letter reason
codes for malformed events, the intake's own for access, limits and availability
(:data:`intake.submissions.STATUS`).
"""

from __future__ import annotations

from typing import Literal

import orjson
from fastapi import APIRouter, Request, Security
from fastapi.responses import Response
from fastapi.security import APIKeyHeader
from pydantic import BaseModel, Field

from ingestion.contract import submission_schema
from intake.submissions import ERROR_CODES

router = APIRouter()
access_code = APIKeyHeader(name="X-Access-Code", auto_error=False, scheme_name="AccessCode",
                           description="An access code issued with `leap intake codes issue` for the event's "
                                       "school, instrument, school year and term.")


class Accepted(BaseModel):
    submission_id: str = Field(description="The event's submission_id (its idempotency key).")
    status: Literal["accepted"] = "accepted"


class Problem(BaseModel):
    error: Literal[ERROR_CODES] = Field(description="Reason code: the dead-letter reasons of the event "
                                                    "contract, or the intake's own (docs/intake.md).")
    detail: str


class Health(BaseModel):
    status: Literal["ok", "ready", "not ready"]


_PROBLEM_TEXT = {
    400: "Not JSON, or not a JSON object (`invalid_json`).",
    401: "No access code (`access_code_missing`), or not a valid one (`access_code_invalid`).",
    403: "The code is for another survey (`access_code_mismatch`), its single-use is spent (`access_code_used`), "
         "or the term's window is closed (`outside_window`).",
    413: "The body is larger than LEAP_INTAKE_MAX_BODY_BYTES (`body_too_large`).",
    422: "The event breaks the v1 contract: `schema_violation`, `unknown_instrument`, `unknown_item`, "
         "`category_out_of_range`, `invalid_school_year`, `invalid_timestamp`.",
    429: "Too many requests from this address or with this code (`rate_limited`); see Retry-After.",
    503: "Kafka is not available (`broker_unavailable`): nothing was stored; send again later.",
}


def problem_responses(*statuses: int) -> dict:
    return {s: {"model": Problem, "description": _PROBLEM_TEXT[s]} for s in statuses}


def json_response(body: dict, status: int, headers: dict | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json", headers=headers)


def _event_schema() -> dict:
    """The v1 JSON Schema as the OpenAPI request body (OpenAPI 3.1 takes JSON Schema; ids dropped)."""
    return {k: v for k, v in submission_schema().items() if k not in ("$schema", "$id")}


@router.post("/v1/submissions", status_code=202, response_model=Accepted, tags=["submissions"],
             summary="Submit one survey response (event v1)",
             responses=problem_responses(400, 401, 403, 413, 422, 429, 503),
             openapi_extra={"requestBody": {"required": True,
                                            "content": {"application/json": {"schema": _event_schema()}}}})
async def submit(request: Request, code: str | None = Security(access_code)) -> Response:
    """Check the event with the consumer's validator, check the access code and the window, produce it
    (key = school id, acks=all) and answer 202 once Kafka acknowledged it. Sending the same
    `submission_id` again is harmless: it is answered 202 again and stored once."""
    intake = request.app.state.intake
    access = intake.access(code)
    submission_id = await intake.accept(await request.body(), access)
    return json_response({"submission_id": submission_id, "status": "accepted"}, 202)


@router.get("/healthz", response_model=Health, tags=["operations"], summary="The process is up")
async def healthz() -> Response:
    return json_response({"status": "ok"}, 200)


@router.get("/readyz", response_model=Health, tags=["operations"], summary="Kafka answers: submissions can be taken",
            responses={503: {"model": Health, "description": "Kafka does not answer."}})
async def readyz(request: Request) -> Response:
    ready = request.app.state.intake.producer.ready
    return json_response({"status": "ready" if ready else "not ready"}, 200 if ready else 503)

