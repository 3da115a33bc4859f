"""End to end in a real browser: Debian's Chromium (driven by Playwright) takes the teacher survey with
the keyboard only and the student survey with the mouse, against the service served by uvicorn on
loopback; the ingestion then lands both submissions in the raw lake, pseudonymized."""

from __future__ import annotations

import logging
import shutil
import time
from datetime import timedelta

import duckdb
import pytest
from support.browser import in_own_thread
from support.intake import NOW, RAW_RESPONDENT, WINTER, issue, served
from support.kafka import TEST_KEY

from ingestion.consumer import run_ingestion
from ingestion.pseudonym import Pseudonymizer
from intake.access import CodeStore, Survey
from intake.app import create_app
from intake.config import IntakeConfig
from intake.keys import load_keyring

pytestmark = pytest.mark.e2e

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
TEACHERS = Survey("SCH-0311", "teacher", *WINTER)
STUDENTS = Survey("SCH-0311", "student", *WINTER)
TEACHER_ANSWERS = {0: 4, 1: 0, 2: 2, 4: 3}  # item index -> category; the others skipped
STUDENT_ANSWERS = {"s_lf01": 3, "s_ld02": 0, "s_ll07": 4}

# WCAG relative luminance and contrast of an element's text against the first opaque background behind it.
CONTRAST_JS = """el => {
  const rgb = s => s.match(/[\\d.]+/g).map(Number);
  const lum = ([r, g, b]) => [r, g, b].map(v => { v /= 255; return v <= 0.03928 ? v / 12.92
                                                 : Math.pow((v + 0.055) / 1.055, 2.4); })
                               .reduce((a, v, i) => a + v * [0.2126, 0.7152, 0.0722][i], 0);
  let bg = el;
  while (bg && rgb(getComputedStyle(bg).backgroundColor).length === 4
         && rgb(getComputedStyle(bg).backgroundColor)[3] === 0) bg = bg.parentElement;
  const back = bg ? rgb(getComputedStyle(bg).backgroundColor) : [255, 255, 255];
  const [a, b] = [lum(rgb(getComputedStyle(el).color)), lum(back)].sort((x, y) => y - x);
  return (a + 0.05) / (b + 0.05);
}"""


@pytest.fixture(scope="module")
def chromium():
    path = shutil.which("chromium")
    if path is None:
        pytest.skip("Debian's chromium is not installed (make setup installs it)")
    return path


def _moving_clock():
    """The fixed winter day, advancing in real time: forms measure how long they took."""
    started = time.monotonic()
    return lambda: NOW + timedelta(seconds=time.monotonic() - started)


def test_a_teacher_and_a_student_take_the_survey_and_land_pseudonymized(platform, chromium, caplog):
    from playwright.sync_api import sync_playwright

    caplog.set_level(logging.INFO)
    teacher_code = issue(platform, TEACHERS)[0]
    student_code = issue(platform, STUDENTS, single_use=True)[0]
    app = create_app(platform, IntakeConfig(), _moving_clock())

    def take_both(base: str) -> str:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            try:
                respondent = _teacher_with_the_keyboard(browser.new_page(), base, teacher_code, platform)
                _student_with_the_mouse(browser.new_page(), base, student_code)
                return respondent
            finally:
                browser.close()

    with served(app) as base:
        teacher_respondent = in_own_thread(take_both, base)
    student_respondent = CodeStore(platform.layout.intake_codes).find(load_keyring(platform), student_code).respondent
    _both_land_pseudonymized(platform, {"teacher": teacher_respondent, "student": student_respondent})
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "POST /s/SCH-0311/teacher/2026-27/winter/submit" in logged, "uvicorn's access log was captured"
    for secret in (teacher_respondent, student_respondent, teacher_code, student_code, RAW_RESPONDENT):
        assert secret not in logged


def _teacher_with_the_keyboard(page, base: str, code: str, settings) -> str:
    """Tab to the code, type it, Enter; in each item Tab into the radio group, Space or arrows to answer;
    Tab past the skipped ones to the button; Enter. Returns the respondent id the form carried."""
    page.goto(base + TEACHERS.path)
    assert page.locator("html").get_attribute("lang") == "en"
    page.keyboard.press("Tab")
    assert _focused(page) == ("A", "Skip to the survey")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "access_code"
    page.keyboard.type(code.lower())  # case and dashes do not matter
    page.keyboard.press("Enter")
    page.wait_for_selector("fieldset.item")
    items = page.locator("fieldset.item").count()
    page.keyboard.press("Tab")  # the skip link
    for index in range(items):
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.type") == "radio"
        assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none", "focus visible"
        if index in TEACHER_ANSWERS:
            category = TEACHER_ANSWERS[index]
            page.keyboard.press("Space" if category == 0 else "ArrowDown")
            for _ in range(category - 1):
                page.keyboard.press("ArrowDown")
    page.keyboard.press("Tab")
    assert _focused(page) == ("BUTTON", "Send my answers")
    respondent = load_keyring(settings).unsign("form", page.locator("input[name=form]").get_attribute("value"))
    page.keyboard.press("Enter")
    page.wait_for_selector("text=Your answers were received")
    assert page.locator("h1").inner_text() == "Thank you"
    return respondent["respondent"]


def _student_with_the_mouse(page, base: str, code: str) -> None:
    page.goto(base + STUDENTS.path)
    page.get_by_label("Access code").fill(code)
    page.get_by_role("button", name="Start the survey").click()
    assert page.get_by_role("group", name="1. My teacher knows how I learn best.").is_visible()
    for selector in ("label", "legend", "h1", "p", "button"):
        for ratio in page.locator(f"main {selector}").evaluate_all(f"els => els.map({CONTRAST_JS})"):
            assert ratio >= 4.5, f"{selector}: contrast {ratio:.2f} below WCAG AA"
    for item_id, category in STUDENT_ANSWERS.items():
        page.click(f"label[for=q-{item_id}-{category}]")
    page.get_by_label("What grade are you in?").select_option("7")
    page.get_by_role("button", name="Send my answers").click()
    page.wait_for_selector("text=Your answers were received")


def _both_land_pseudonymized(settings, respondents: dict[str, str]) -> None:
    stats = run_ingestion(settings, "bounded", workers=0, progress=False, standalone=True)
    assert stats.landed == 2 and stats.rejected == 0
    glob = str(settings.layout.raw / "**" / "*.parquet")
    cur = duckdb.connect().execute(f"select * from read_parquet('{glob}', union_by_name=true, hive_partitioning=false)")
    columns = [d[0] for d in cur.description]
    by_instrument = {r["instrument"]: r for r in (dict(zip(columns, row, strict=True)) for row in cur.fetchall())}
    pseudonyms = Pseudonymizer(bytes.fromhex(TEST_KEY))
    for name, raw_id in respondents.items():
        row = by_instrument[name]
        assert row["respondent_key"] == pseudonyms.respondent_key("SCH-0311", raw_id)
        assert len(row["respondent_key"]) == 32 and int(row["respondent_key"], 16) >= 0
        assert row["duration_seconds"] > 0, "the signed timestamp of the served form"
        assert not any(raw_id in str(v) for v in row.values()), "the raw id is in no column"
    teacher = by_instrument["teacher"]
    assert [teacher[f"t_lf0{i + 1}"] for i in range(5)] == [4, 0, 2, None, 3]
    assert by_instrument["student"]["s_lf01"] == 3 and by_instrument["student"]["grade"] == 7
    for path in settings.layout.raw.rglob("*"):
        if path.is_file():
            blob = path.read_bytes()
            assert not any(raw.encode() in blob for raw in respondents.values()), path


def _focused(page) -> tuple[str, str]:
    return tuple(page.evaluate("[document.activeElement.tagName, document.activeElement.textContent.trim()]"))
