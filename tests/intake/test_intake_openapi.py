"""The OpenAPI description: the committed file is the application's, and it documents every refusal."""

from __future__ import annotations

import json

from intake.app import OPENAPI_FILE, openapi_document
from intake.submissions import STATUS


def test_the_committed_description_is_the_applications():
    assert OPENAPI_FILE.read_text(encoding="utf-8") == openapi_document(), \
        "regenerate it: leap intake openapi > intake/openapi.json"


def test_the_submission_endpoint_documents_every_status_it_can_answer():
    spec = json.loads(openapi_document())
    post = spec["paths"]["/v1/submissions"]["post"]
    not_for_json = {"csrf_failed", "form_expired", "invalid_form", "not_found"}
    expected = {str(status) for reason, status in STATUS.items() if reason not in not_for_json} | {"202"}
    assert set(post["responses"]) == expected
    body = post["requestBody"]["content"]["application/json"]["schema"]
    assert body["required"][0] == "submission_id" and body["additionalProperties"] is False, "the v1 schema"
    assert spec["components"]["securitySchemes"]["AccessCode"] == {
        "type": "apiKey", "in": "header", "name": "X-Access-Code",
        "description": spec["components"]["securitySchemes"]["AccessCode"]["description"]}
    errors = spec["components"]["schemas"]["Problem"]["properties"]["error"]["enum"]
    assert set(errors) == set(STATUS)
