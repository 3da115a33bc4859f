"""The classroom view at the real program's size: 105 teacher-reported indicators (a generated instrument
directory through LEAP_INSTRUMENT_DIR) x 30 classrooms, rendered into a school page and measured in the
browser: every cell there, at least 14 px, numbers readable, hidden cells saying why."""

from __future__ import annotations

import pytest
from support.instruments import write_large_teacher_bank

from reports.build import render
from reports.data import ReportData
from reports.school import Rules, build_school

RULES = Rules(min_n=10, min_classroom_n=5, min_response_rate=0.5)


def _scale_rows(instrument: str) -> list[dict]:
    rows = []
    for component in ("LF", "LD", "LL"):
        rows.append({"school_id": "SCH-1", "instrument": instrument, "school_year": "2024-25", "term": "spring",
                     "component": component, "calibration_id": "cal-1", "sample": "leap_network",
                     "grade_band": "middle", "n_respondents": 40, "n_not_scored": 0, "is_suppressed": False,
                     "suppression_reason": None, "mean_scaled_score": 251.0, "mean_scaled_score_se": 2.0,
                     "mean_scaled_score_ci_low": 247.0, "mean_scaled_score_ci_high": 255.0, "pct_emerging": 10.0,
                     "pct_moderate_low": 30.0, "pct_moderate_high": 40.0, "pct_high": 20.0,
                     "school_level": "moderate_low", "reliability": 0.8, "network_mean_scaled_score": 253.0,
                     "benchmark_version": "national-2024-25", "national_mean_scaled_score": 248.0})
    return rows


def _classroom_rows(item_ids: list[str]) -> list[dict]:
    rows = []
    for c in range(1, 31):
        for k, item in enumerate(item_ids):
            hidden = (c * 7 + k) % 23 == 0
            rows.append({"school_id": "SCH-1", "classroom_id": f"C{c:02d}", "instrument": "teacher",
                         "school_year": "2024-25", "term": "spring", "item_id": item,
                         "n_respondents": 3 if hidden else 8, "is_suppressed": hidden,
                         "suppression_reason": "fewer_than_min_n" if hidden else None,
                         "top_box_pct": None if hidden else float((c * 13 + k * 7) % 101), "mean_category": None})
    return rows


@pytest.fixture
def large_page(tmp_path, monkeypatch):
    monkeypatch.setenv("LEAP_INSTRUMENT_DIR", str(write_large_teacher_bank(tmp_path / "instrument")))
    from leap.instrument import load_catalog

    items = [i.item_id for i in load_catalog().latest("teacher").items]
    assert len(items) == 105
    data = ReportData("2024-25", "spring", schools={"SCH-1": {"school_id": "SCH-1", "sample": "leap_network",
                                                              "grade_band": "middle"}})
    data.by_school["SCH-1"] = {"fct_school_scale_scores": _scale_rows("teacher"),
                               "rpt_classroom_items": _classroom_rows(items)}
    page = tmp_path / "SCH-1.html"
    page.write_text(render("school.html.j2", build_school(data, "SCH-1", RULES)), encoding="utf-8")
    return page, items


def test_heat_map_of_105_indicators_and_30_classrooms_is_readable(browser, large_page):
    path, items = large_page
    page = browser.open(path)
    try:
        chart = page.locator("[data-k='classrooms:teacher'] svg")
        cells = chart.locator(".cell")
        assert cells.count() == 30 * 105
        sizes = cells.evaluate_all("els => els.map(e => { const r = e.getBoundingClientRect(); "
                                   "return [r.width, r.height]; })")
        assert min(w for w, _ in sizes) >= 14 and min(h for _, h in sizes) >= 14
        hidden = chart.locator(".suppressed")
        assert hidden.count() == sum(1 for c in range(1, 31) for k in range(105) if (c * 7 + k) % 23 == 0)
        assert "fewer than 5 respondents answered" in chart.inner_html()
        # the numbers are in the cells (numbers beside colours), e.g. classroom C01, first indicator
        assert f">{(1 * 13 + 0) % 101}%<" in chart.inner_html() or ">13<" in chart.inner_html()
        # a principal scrolls the map sideways; the page itself does not break
        assert page.evaluate("document.querySelector(\"[data-k='classrooms:teacher']\").scrollWidth") > 1000
        assert browser.blocked_requests == []
    finally:
        page.close()
