"""Survey pages rendered from the instrument definition (accessible structure, every scale label, nothing
required), and a filled-in form turned into an event the consumer's validator accepts. No broker."""

from __future__ import annotations

from datetime import timedelta

import orjson
import pytest
from support.intake import NOW, WINTER, PageStructure, intake_client, issue, open_survey

from ingestion.contract import Rejected, check_submission
from intake.access import Access, Survey
from intake.forms import event_bytes, new_form_state
from leap.instrument import load_catalog

TEACHERS = Survey("SCH-0001", "teacher", *WINTER)
STUDENTS = Survey("SCH-0001", "student", *WINTER)


def test_the_start_page_asks_for_the_code_and_sets_a_strict_csrf_cookie(leap_env):
    with intake_client(leap_env, ready=False) as client:
        r = client.get(STUDENTS.path)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    page = PageStructure(r.text)
    assert page.html_attrs["lang"] == "en"
    assert page.labels["access_code"] == "Access code"
    assert "December 1, 2026 to February 28, 2027" in r.text
    cookie = r.headers["set-cookie"].lower()
    assert "leap_csrf=" in cookie and "httponly" in cookie and "samesite=strict" in cookie and "path=/s/" in cookie
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "form-action 'self'" in r.headers["content-security-policy"]
    assert "<script" not in r.text


@pytest.mark.parametrize("survey", [TEACHERS, STUDENTS], ids=["teacher", "student"])
def test_every_item_is_a_fieldset_with_a_labelled_radio_per_category(leap_env, survey):
    code = issue(leap_env, survey)[0]
    with intake_client(leap_env, ready=False) as client:
        r = open_survey(client, survey, code)
    assert r.status_code == 200, r.text
    page = PageStructure(r.text)
    ins = load_catalog().latest(survey.instrument)
    items = [f for f in page.fieldsets if f["names"] and next(iter(f["names"])).startswith("q_")]
    assert [f["legend"] for f in items] == [f"{n}. {i.wording}" for n, i in enumerate(ins.items, start=1)]
    for item, fieldset in zip(ins.items, items, strict=True):
        assert fieldset["names"] == {f"q_{item.item_id}"}
        radios = [c for c in page.controls if c.get("name") == f"q_{item.item_id}"]
        assert [page.labels[c["id"]] for c in radios] == [*item.categories, "Skip this question"]
        assert [c["value"] for c in radios] == [*map(str, range(len(item.categories))), ""]
    visible = [c for c in page.controls if c["tag"] != "button" and c.get("type") != "hidden"]
    assert all(page.labels.get(c["id"]) for c in visible), "a label for every control"
    assert not any("required" in c for c in page.controls), "every item may be skipped"
    assert page.html_attrs["lang"] == "en" and "<script" not in r.text


def test_students_are_asked_about_themselves_optionally_in_plain_words(leap_env):
    code = issue(leap_env, STUDENTS, grade_band="elementary")[0]
    with intake_client(leap_env, ready=False) as client:
        page = PageStructure(open_survey(client, STUDENTS, code).text)
    about = next(f for f in page.fieldsets if "grade" in f["names"])
    assert about["names"] == {"grade", "gender", "race_ethnicity", "parent_education"}
    assert about["legend"].startswith("About you")
    assert page.labels["about-grade"] == "What grade are you in?"
    student_items = load_catalog().latest("student").items
    assert all(i.wording.startswith(("My ", "I ")) for i in student_items), "student items speak to the student"


def _access(single_use: bool, survey: Survey = STUDENTS) -> Access:
    return Access(7, survey, "middle", "nextgen", single_use, "a" * 32 if single_use else None, None)


def test_a_filled_in_form_is_a_valid_event_with_skips_as_null_and_the_duration():
    access = _access(single_use=True)
    state = new_form_state(access, "1.0", NOW - timedelta(minutes=7, seconds=3))
    form = {"csrf": "x", "form": "y", "q_s_lf01": "4", "q_s_lf02": "", "q_s_ld01": "0", "grade": "7", "gender": ""}
    event = check_submission(event_bytes(form, state, access, NOW))
    assert event["respondent_id"] == "a" * 32, "a single-use code's respondent handle"
    assert event["duration_seconds"] == 423.0
    assert event["responses"]["s_lf01"] == 4 and event["responses"]["s_ld01"] == 0
    assert event["responses"]["s_lf02"] is None and event["responses"]["s_ll07"] is None
    assert len(event["responses"]) == len(load_catalog().latest("student").items)
    assert event["demographics"] == {"grade": 7}
    assert (event["school_id"], event["grade_band"], event["sample"]) == ("SCH-0001", "middle", "nextgen")


def test_a_shared_code_gives_every_form_its_own_respondent_and_submission():
    access = _access(single_use=False, survey=TEACHERS)
    one, two = (new_form_state(access, "1.0", NOW) for _ in range(2))
    assert one["respondent"] != two["respondent"] and one["submission"] != two["submission"]
    event = orjson.loads(event_bytes({}, one, access, NOW))
    assert event["respondent_id"] == one["respondent"] and set(event["responses"].values()) == {None}
    check_submission(orjson.dumps(event))  # an all-skipped survey is still a submission


@pytest.mark.parametrize(("field", "value", "reason"), [
    ("q_s_zz99", "1", "unknown_item"), ("q_s_lf01", "9", "category_out_of_range"),
    ("q_s_lf01", "often", "schema_violation"), ("q_s_lf01", "٣", "schema_violation"),
    ("gender", "x" * 40, "schema_violation"),
])
def test_a_tampered_form_is_refused_by_the_validator(field, value, reason):
    access = _access(single_use=True)
    state = new_form_state(access, "1.0", NOW)
    with pytest.raises(Rejected) as info:
        check_submission(event_bytes({field: value}, state, access, NOW))
    assert info.value.reason == reason


def test_routing_errors_under_survey_links_are_pages_and_json_elsewhere(leap_env):
    with intake_client(leap_env, ready=False) as client:
        for path in ("/s/a%2Fb/teacher/2026-27/winter", "/s/x", "/s/SCH-1/parent/2026-27/winter"):
            r = client.get(path)
            assert r.status_code == 404 and r.headers["content-type"].startswith("text/html"), path
        assert client.put(STUDENTS.path + "/start").headers["content-type"].startswith("text/html")
        assert client.get("/v2/nothing").headers["content-type"] == "application/json"
        assert client.delete("/v1/submissions").status_code == 405
