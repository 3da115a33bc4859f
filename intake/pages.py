"""The survey pages: a survey link's start page, the survey form, the confirmation.

``GET /s/<school>/<instrument>/<school_year>/<term>`` asks for the access code; ``POST …/start`` checks
it and serves the form; ``POST …/submit`` turns the answers into a v1 event and takes the same path as
the JSON API (:meth:`intake.submissions.Intake.accept`). Both POSTs need the CSRF token of
:meth:`intake.keys.Keyring.csrf_pair`: the nonce in the ``leap_csrf`` cookie (HttpOnly, SameSite=Strict)
and the signed nonce in the form.
"""

from __future__ import annotations

import re

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.exceptions import HTTPException

from intake.access import Survey, is_open, survey_problem
from intake.config import FORM_MAX_AGE_SECONDS
from intake.forms import demographic_choices, event_bytes, new_form_state, render, window_text
from intake.submissions import Refused, closed

router = APIRouter(tags=["survey pages"])
CSRF_COOKIE = "leap_csrf"
NONCE = re.compile(r"[A-Za-z0-9_-]{32}")  # what Keyring.csrf_pair mints
LINK = "/s/{school_id}/{instrument}/{school_year}/{term}"
_CODE_PROBLEMS = {"access_code_missing", "access_code_invalid", "access_code_mismatch", "access_code_used"}

_PAGE_TEXT = {
    200: "The page.", 400: "The form could not be read (`invalid_form`).",
    401: "No access code, or not a valid one: the start page again, with the error.",
    403: "CSRF token missing or invalid, form expired, code for another survey or already used, or the survey "
         "is closed.",
    404: "No such survey (unknown instrument or term, malformed school id or school year).",
    413: "The form is larger than LEAP_INTAKE_MAX_BODY_BYTES.",
    422: "The answers break the v1 contract (a tampered form).",
    429: "Too many requests from this address or with this code; see Retry-After.",
    503: "Kafka is not available: nothing was stored; send the form again later.",
}


def html_responses(*statuses: int) -> dict:
    return {s: {"description": _PAGE_TEXT[s], "content": {"text/html": {"schema": {"type": "string"}}}}
            for s in statuses}


def _form_body(*fields: str) -> dict:
    props = {f: {"type": "string"} for f in fields}
    schema = {"type": "object", "properties": props, "additionalProperties": {"type": "string"}}
    return {"requestBody": {"content": {"application/x-www-form-urlencoded": {"schema": schema}}}}


def _survey(school_id: str, instrument: str, school_year: str, term: str) -> Survey:
    survey = Survey(school_id, instrument, school_year, term)
    if survey_problem(survey):
        raise Refused("not_found", "there is no survey at this address")
    return survey


@router.get(LINK, response_class=HTMLResponse, summary="A survey link: the start page",
            responses=html_responses(403, 404, 429))
async def start_page(request: Request, school_id: str, instrument: str, school_year: str, term: str):
    survey = _survey(school_id, instrument, school_year, term)
    intake = request.app.state.intake
    if not is_open(survey, intake.clock()):
        raise closed(survey)
    return _start(request, survey, None, 200)


@router.post(LINK + "/start", response_class=HTMLResponse, summary="Check the access code, serve the survey form",
             responses=html_responses(400, 401, 403, 404, 413, 429), openapi_extra=_form_body("access_code", "csrf"))
async def start(request: Request, school_id: str, instrument: str, school_year: str, term: str):
    survey = _survey(school_id, instrument, school_year, term)
    form = await _checked_form(request)
    intake = request.app.state.intake
    try:
        access = intake.access(form.get("access_code"))
        intake.open_for(access, survey)
    except Refused as exc:
        if exc.reason not in _CODE_PROBLEMS:
            raise
        text = refusal_text(exc)
        return _start(request, survey, " ".join(filter(None, (text["message"], text["next_step"]))), exc.status)
    ins = intake.catalog.latest(survey.instrument)
    state = new_form_state(access, ins.version, intake.clock())
    about = demographic_choices(access.grade_band) if ins.respondent_type == "student" else []
    page = render("survey.html", title=ins.title, survey=survey, respondent_type=ins.respondent_type,
                  items=ins.items, about=about, csrf=form["csrf"], form_token=intake.keyring.sign("form", state))
    return _html(page, 200)


@router.post(LINK + "/submit", response_class=HTMLResponse, summary="Send the answers; the confirmation page",
             responses=html_responses(400, 401, 403, 404, 413, 422, 429, 503), openapi_extra=_form_body("csrf", "form"))
async def submit(request: Request, school_id: str, instrument: str, school_year: str, term: str):
    survey = _survey(school_id, instrument, school_year, term)
    form = await _checked_form(request)
    intake = request.app.state.intake
    now = intake.clock()
    state = _form_state(intake.keyring, form.get("form"), survey, now)
    access = intake.store.get(state["code"])  # the code again: revoked since the form was served?
    if access is None:
        raise Refused("access_code_invalid", "this access code is no longer valid")
    intake.limit_code(access)
    submission_id = await intake.accept(event_bytes(form, state, access, now), access)
    page = render("done.html", title="Thank you", receipt=submission_id[:8].upper())
    return _html(page, 200)


# --------------------------------------------------------------------------- refusals as pages

# reason -> (title, what happened, what to do), in the respondent's words
_REFUSALS = {
    "access_code_missing": ("Access code needed", "This survey needs the access code you were given."),
    "access_code_invalid": ("Access code not valid", "That access code does not open this survey.",
                            "Check the code and try again, or ask the person who gave it to you."),
    "access_code_mismatch": ("Access code for another survey", "That access code is for a different survey.",
                             "Use the survey link you were given with this code."),
    "access_code_used": ("Access code already used", "This access code has already been used to send answers. "
                         "Each code works once.", "If you have not taken the survey yet, ask for a new code."),
    "outside_window": ("This survey is closed", "This survey is not open today."),
    "csrf_failed": ("Please start again", "Your form could not be checked: it may be old, or your browser may "
                    "block cookies.", "Go back to the start page and try again."),
    "form_expired": ("Please start again", "This form has expired.", "Go back to the start page and start again."),
    "not_found": ("Survey not found", "There is no survey at this address.", "Check the link you were given."),
    "rate_limited": ("Please wait", "There were too many tries in a short time.", "Wait a minute and try again."),
    "body_too_large": ("Form too large", "The form sent was too large to read."),
    "invalid_form": ("Form not readable", "The form sent could not be read.", "Go back and try again."),
    "broker_unavailable": ("Answers not saved yet", "Your answers could not be saved just now.",
                           "Go back (your answers are still in the form) and send them again in a minute."),
}
_UNREADABLE = ("Answers not readable", "The answers sent could not be read.",
               "Go back to the start page and take the survey again.")


def refusal_text(exc: Refused) -> dict:
    """Title, message and next step of the page that explains a refusal."""
    title, message, *next_step = _REFUSALS.get(exc.reason, _UNREADABLE)
    if exc.reason == "outside_window":
        message = f"This survey is not open today: {exc.detail}."
    return {"title": title, "message": message, "next_step": next_step[0] if next_step else None}


def survey_path(path: str, exc: Refused) -> str | None:
    """The survey link a refused request came from (the back link), unless there is no such survey."""
    parts = path.split("/")
    return "/".join(parts[:6]) if len(parts) >= 6 and exc.reason != "not_found" else None


# --------------------------------------------------------------------------- helpers


def _form_state(keyring, token: str | None, survey: Survey, now) -> dict:
    """The signed state of a served form, when it was served for this survey less than 8 hours ago."""
    state = keyring.unsign("form", token)
    if state is None or state.get("survey") != [survey.school_id, survey.instrument, survey.school_year, survey.term]:
        raise Refused("form_expired", "this form is not one the service served for this survey")
    if now.timestamp() - state["served"] > FORM_MAX_AGE_SECONDS:
        raise Refused("form_expired", "this form has expired")
    return state


async def _checked_form(request: Request) -> dict[str, str]:
    """The posted fields (text only), once the CSRF token matches its cookie."""
    try:
        form = await request.form()
    except HTTPException:  # a malformed multipart body
        raise Refused("invalid_form", "the form could not be read") from None
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    if not request.app.state.intake.keyring.csrf_ok(request.cookies.get(CSRF_COOKIE), fields.get("csrf")):
        raise Refused("csrf_failed", "the form's security token is missing or does not match")
    return fields


def _start(request: Request, survey: Survey, error: str | None, status: int) -> HTMLResponse:
    intake = request.app.state.intake
    # The browser's nonce when it has one, so two tabs of the survey both work. A planted cookie gains
    # nothing: SameSite=Strict keeps it off every cross-site request.
    held = request.cookies.get(CSRF_COOKIE)
    cookie, field = intake.keyring.csrf_pair(held if held and NONCE.fullmatch(held) else None)
    title = intake.catalog.latest(survey.instrument).title
    page = render("start.html", title=title, survey=survey, window=window_text(survey), csrf=field, error=error)
    response = _html(page, status)
    response.set_cookie(CSRF_COOKIE, cookie, path="/s/", httponly=True, samesite="strict",
                        secure=request.url.scheme == "https")
    return response


def _html(page: str, status: int) -> HTMLResponse:
    return HTMLResponse(page, status_code=status, headers={"Cache-Control": "no-store"})
