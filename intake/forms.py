"""Survey pages rendered from the instrument definition, and a filled-in form turned into a v1 event.

The pages are server-rendered Jinja2 (``intake/templates``), plain HTML forms that work without
JavaScript: every item is a ``fieldset`` whose ``legend`` is the item's wording, every category a radio
button with its ``label`` (the response-scale labels of ``response_scales.csv``), and no item is
required (a skipped item is sent as null). The student items of ``items.csv`` are already worded for
students (first person, plain language: "My teacher knows how I learn best."), so the pages show the
wording as it is; only the page's own text differs by respondent type.

A form carries its state signed (:meth:`intake.keys.Keyring.sign`, purpose ``form``): the survey, the
instrument version, the access code's row, the submission id (minted when the form is served, so
sending the same form twice is the same submission), a respondent id for a shared code, and when the
form was served, which gives the event's ``duration_seconds``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from functools import lru_cache
from pathlib import Path

import jinja2
import orjson

from intake.access import Access, Survey
from leap import instrument

TEMPLATES = Path(__file__).parent / "templates"
ITEM_FIELD = "q_"  # form field of an item: q_<item id>
DEMOGRAPHICS = ("grade", "gender", "race_ethnicity", "parent_education")
# The demographic questions a student may answer (all optional), in the student's words.
DEMOGRAPHIC_QUESTIONS = {"grade": "What grade are you in?", "gender": "What is your gender?",
                         "race_ethnicity": "What is your race or ethnicity?",
                         "parent_education": "What is the highest level of school a parent or guardian finished?"}
NOT_OFFERED = {"other_unknown"}  # the warehouse's bucket for unrecognized answers, not a choice


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                              undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def render(template: str, **context) -> str:
    return environment().get_template(template).render(**context)


def window_text(survey: Survey) -> str:
    first, last = instrument.term_window(survey.school_year, survey.term)
    return f"{_day(first)} to {_day(last)}"


def _day(iso: str) -> str:
    return datetime.fromisoformat(iso).strftime("%B %-d, %Y")


def new_form_state(access: Access, version: str, now: datetime) -> dict:
    """What a served form carries, signed: shared codes get a random respondent id per form."""
    s = access.survey
    return {"survey": [s.school_id, s.instrument, s.school_year, s.term], "version": version,
            "code": access.code_id, "submission": str(uuid.uuid4()),
            "respondent": None if access.single_use else f"form-{uuid.uuid4().hex}",
            "served": now.timestamp()}


def demographic_choices(grade_band: str) -> list[dict]:
    """The optional questions about the student, with their choices from the instrument definition."""
    low, high = instrument.surveyed_grades(grade_band)
    levels, labels = instrument.demographic_levels(), instrument.demographic_labels()
    out = [{"name": "grade", "question": DEMOGRAPHIC_QUESTIONS["grade"],
            "choices": [(str(g), f"Grade {g}") for g in range(low, high + 1)]}]
    for name in DEMOGRAPHICS[1:]:
        choices = [(level, labels[(name, level)]) for level in levels[name] if level not in NOT_OFFERED]
        out.append({"name": name, "question": DEMOGRAPHIC_QUESTIONS[name], "choices": choices})
    return out


def event_bytes(form: Mapping[str, str], state: dict, access: Access, now: datetime) -> bytes:
    """The v1 event of a filled-in form (checked afterwards by the consumer's validator, like any other)."""
    school_id, name, school_year, term = state["survey"]
    event = {
        "submission_id": state["submission"], "instrument": name, "instrument_version": state["version"],
        "school_id": school_id, "respondent_id": access.respondent or state["respondent"],
        "school_year": school_year, "term": term,
        "submitted_at": now.isoformat(timespec="milliseconds"),
        "grade_band": access.grade_band, "sample": access.sample,
        "duration_seconds": round(max(0.0, now.timestamp() - state["served"]), 1),
        "responses": _responses(form, name, state["version"]),
    }
    about = {k: _value(form[k]) for k in DEMOGRAPHICS if form.get(k)}
    if about:
        event["demographics"] = about
    return orjson.dumps(event)


def _responses(form: Mapping[str, str], name: str, version: str) -> dict:
    """Every item of the version (null when skipped), plus any other ``q_`` field as sent, so a tampered
    form is refused by the validator (``unknown_item``) rather than silently cleaned."""
    ins = instrument.load_catalog().get(name, version)
    answers = {item_id: None for item_id in (ins.item_ids if ins else [])}
    for field, value in form.items():
        if field.startswith(ITEM_FIELD):
            answers[field[len(ITEM_FIELD):]] = _value(value) if value != "" else None
    return answers


def _value(text: str) -> int | str:
    """A category or grade as an integer; anything else as sent (the validator names the problem)."""
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 3 else text
