"""Refusals, each proven to produce nothing (the topic's end offsets do not move): a wrong, missing,
revoked, mismatched or reused code, a closed window, an oversized body, a missing or forged CSRF token,
a tampered or expired form, and the rate limits per address and per code."""

from __future__ import annotations

from datetime import timedelta

import orjson
import pytest
from support.intake import NOW, WINTER, end_offsets, event, intake_client, issue, open_survey, submit_form

from intake.access import CodeStore, Survey
from intake.config import IntakeConfig
from intake.keys import load_keyring

TEACHERS = Survey("SCH-0007", "teacher", *WINTER)
STUDENTS = Survey("SCH-0007", "student", *WINTER)


def post(client, body, code: str | None):
    headers = {"Content-Type": "application/json", **({"X-Access-Code": code} if code else {})}
    return client.post("/v1/submissions", content=body if isinstance(body, bytes) else orjson.dumps(body),
                       headers=headers)


def refused(response, status: int, reason: str) -> bool:
    if response.headers["content-type"].startswith("application/json"):
        return response.status_code == status and response.json()["error"] == reason
    return response.status_code == status and 'role="alert"' in response.text


def test_wrong_missing_and_revoked_codes(platform):
    code = issue(platform, TEACHERS)[0]
    revoked = issue(platform, TEACHERS)[0]
    store = CodeStore(platform.layout.intake_codes)
    assert store.revoke_code(load_keyring(platform), revoked) == 1
    with intake_client(platform) as client:
        assert refused(post(client, event(TEACHERS), None), 401, "access_code_missing")
        assert refused(post(client, event(TEACHERS), "AAAA-BBBB-CCCC"), 401, "access_code_invalid")
        assert refused(post(client, event(TEACHERS), "not a code"), 401, "access_code_invalid")
        assert refused(post(client, event(TEACHERS), revoked), 401, "access_code_invalid")
        page = open_survey(client, TEACHERS, "AAAA-BBBB-CCCC")
        assert page.status_code == 401 and "does not open this survey" in page.text.lower()
        assert 'aria-invalid="true"' in page.text, "the start page again, the field marked"
        form = open_survey(client, TEACHERS, code)
        assert store.revoke_code(load_keyring(platform), code) == 1
        assert refused(submit_form(client, TEACHERS, form, {"t_lf01": 2}), 401, "access_code_invalid")
    assert end_offsets(platform) == 0


def test_a_code_opens_its_own_survey_only(platform):
    teacher_code = issue(platform, TEACHERS)[0]
    other_school = issue(platform, Survey("SCH-0008", "teacher", *WINTER))[0]
    with intake_client(platform) as client:
        assert refused(post(client, event(TEACHERS), other_school), 403, "access_code_mismatch")
        assert refused(post(client, event(STUDENTS), teacher_code), 403, "access_code_mismatch")
        assert open_survey(client, STUDENTS, teacher_code).status_code == 403
    assert end_offsets(platform) == 0


def test_a_single_use_code_is_refused_once_used(platform):
    first, second = issue(platform, STUDENTS, count=2, single_use=True)
    with intake_client(platform) as client:
        sent = event(STUDENTS)
        assert post(client, sent, first).status_code == 202
        assert post(client, sent, first).status_code == 202, "a resend of the same submission"
        assert refused(post(client, event(STUDENTS, seed=9), first), 403, "access_code_used")
        assert refused(open_survey(client, STUDENTS, first), 403, "access_code_used")
        tab_one, tab_two = open_survey(client, STUDENTS, second), open_survey(client, STUDENTS, second)
        assert submit_form(client, STUDENTS, tab_one, {"s_lf01": 3}).status_code == 200
        assert submit_form(client, STUDENTS, tab_one, {"s_lf01": 3}).status_code == 200, "the same form again"
        assert refused(submit_form(client, STUDENTS, tab_two, {"s_lf01": 1}), 403, "access_code_used")
    assert end_offsets(platform) == 4, "two submissions, each sent twice; nothing for the refusals"


def test_outside_the_window_nothing_is_taken(platform):
    last_year = Survey("SCH-0007", "teacher", "2025-26", "fall")
    old_code = issue(platform, last_year)[0]
    code = issue(platform, TEACHERS)[0]
    now = [NOW.replace(month=2, day=28, hour=20)]
    config = IntakeConfig()
    with intake_client(platform, config, clock_fn=lambda: now[0]) as client:
        assert refused(post(client, event(last_year), old_code), 403, "outside_window")
        closed = client.get(last_year.path)
        assert closed.status_code == 403 and "September" not in closed.text and "November 30, 2025" in closed.text
        form = open_survey(client, TEACHERS, code)  # still February 28 somewhere
        now[0] += timedelta(days=2)
        assert refused(submit_form(client, TEACHERS, form, {"t_lf01": 1}), 403, "outside_window")
        assert refused(post(client, event(TEACHERS), code), 403, "outside_window")
    assert end_offsets(platform) == 0


def test_oversized_bodies_are_refused_before_they_are_read(platform):
    code = issue(platform, TEACHERS)[0]
    with intake_client(platform) as client:
        padded = {**event(TEACHERS), "respondent_id": "x" * 70_000}
        assert refused(post(client, padded, code), 413, "body_too_large")

        def chunks():  # no Content-Length: the limit counts what streams in
            for _ in range(70):
                yield b"x" * 1024
        r = client.post("/v1/submissions", content=chunks(), headers={"X-Access-Code": code})
        assert refused(r, 413, "body_too_large")
        form = open_survey(client, TEACHERS, code)
        assert submit_form(client, TEACHERS, form, q_t_lf01="1" * 70_000).status_code == 413
    assert end_offsets(platform) == 0


@pytest.mark.parametrize("forgery", ["missing field", "missing cookie", "other cookie", "forged mac", "start"])
def test_csrf_missing_or_invalid_is_refused(platform, forgery):
    code = issue(platform, TEACHERS)[0]
    with intake_client(platform) as client:
        form = open_survey(client, TEACHERS, code)
        if forgery == "start":
            r = client.post(TEACHERS.path + "/start", data={"access_code": code})
        elif forgery == "missing field":
            r = submit_form(client, TEACHERS, form, {"t_lf01": 1}, csrf=None)
        elif forgery == "missing cookie":
            client.cookies.clear()
            r = submit_form(client, TEACHERS, form, {"t_lf01": 1})
        elif forgery == "other cookie":
            client.cookies.clear()
            client.get(TEACHERS.path)  # a new nonce in the cookie; the form still carries the old one
            r = submit_form(client, TEACHERS, form, {"t_lf01": 1})
        else:
            nonce = client.cookies.get("leap_csrf")
            r = submit_form(client, TEACHERS, form, {"t_lf01": 1}, csrf=f"{nonce}.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
        assert refused(r, 403, "csrf_failed")
        assert "start page" in r.text
    assert end_offsets(platform) == 0


def test_a_tampered_or_expired_form_is_refused(platform):
    code = issue(platform, TEACHERS)[0]
    now = [NOW]
    with intake_client(platform, clock_fn=lambda: now[0]) as client:
        form = open_survey(client, TEACHERS, code)
        token = PageToken(form)
        assert refused(submit_form(client, TEACHERS, form, form=token.tampered()), 403, "form_expired")
        other = Survey("SCH-0007", "teacher", "2026-27", "spring")
        assert client.post(other.path + "/submit", data={"csrf": token.csrf, "form": token.form}).status_code == 403
        now[0] += timedelta(hours=9)
        assert refused(submit_form(client, TEACHERS, form, {"t_lf01": 1}), 403, "form_expired")
    assert end_offsets(platform) == 0


class PageToken:
    def __init__(self, form_page):
        from support.intake import PageStructure

        page = PageStructure(form_page.text)
        self.csrf, self.form = page.hidden("csrf"), page.hidden("form")

    def tampered(self) -> str:
        body, mac = self.form.split(".")
        return body[:-4] + ("AAAA" if not body.endswith("AAAA") else "BBBB") + "." + mac


def test_rate_limits_per_address_and_per_code(platform):
    codes = issue(platform, TEACHERS, count=2)
    with intake_client(platform, IntakeConfig(ip_rate=0.001, ip_burst=6, code_rate=0.001, code_burst=2)) as client:
        statuses = [post(client, event(TEACHERS, seed=i), codes[0]).status_code for i in range(3)]
        assert statuses == [202, 202, 429]
        assert post(client, event(TEACHERS, seed=3), codes[1]).status_code == 202, "another code has its own bucket"
        assert post(client, event(TEACHERS, seed=4), codes[1]).status_code == 202
        limited = post(client, event(TEACHERS, seed=5), codes[1])
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 0
        assert refused(client.get(TEACHERS.path), 429, "rate_limited"), "the address is out of tokens too"
        assert client.get("/healthz").status_code == 200 and client.get("/readyz").status_code == 200
    assert end_offsets(platform) == 4
