"""report.html in a real headless Chromium (the system package, driven by Playwright): no request but the
file itself, the four SVGs drawn at a non-zero size, the section headings present.

Like the report-browser tests in tests/reports, it is skipped only when Chromium or Playwright is missing;
``playwright install`` is never run. Set ``LEAP_WRITE_DOCS_SCREENSHOT=1`` to also save the top of the
report as docs/measurement-quality.png (the screenshot in docs/rasch.md)::

    LEAP_WRITE_DOCS_SCREENSHOT=1 .venv/bin/python -m pytest tests/scoring_jobs/rasch/test_quality_browser.py
"""

from __future__ import annotations

import json
import os
import shutil
import warnings
from pathlib import Path

import pytest
from support.browser import in_own_thread
from support.rasch import load_wide

from scoring_jobs.rasch import calibrate
from scoring_jobs.rasch.classification import LevelCuts
from scoring_jobs.rasch.report import write_quality

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
HEADINGS = ["Summary", "Wright map", "Item fit", "Category structure", "Test information and conditional SEM",
            "Dimensionality and local independence", "Classification accuracy and consistency"]
SCREENSHOT = Path(__file__).resolve().parents[3] / "docs" / "measurement-quality.png"


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    """Liking for Science with illustrative cut scores (the example of docs/rasch.md)."""
    resp, names, ids = load_wide("lfs_wide.csv")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cal = calibrate(resp, item_names=names)
    out = tmp_path_factory.mktemp("quality")
    cal.to_dir(out, ids=ids)
    cuts = LevelCuts(("emerging", "moderate_low", "moderate_high", "high"), (-0.5, 0.4, 1.3), "example")
    write_quality(out, cal, resp, cuts=cuts, n_sim=50, title="Liking for Science (Wright & Masters 1982)")
    return out / "report.html"


def look(html: Path, screenshot: Path | None) -> dict:
    """Open ``html`` in headless Chromium, recording every request; what the page shows, as plain data."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1150, "height": 1500})
            requests: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            page.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:")
                       else route.abort())  # offline whatever happens: anything else is aborted (and recorded)
            page.goto(html.resolve().as_uri(), wait_until="load")
            seen = {
                "requests": requests,
                "headings": page.locator("h2").all_inner_texts(),
                "svg_sizes": page.evaluate("() => [...document.querySelectorAll('svg')].map(s => {"
                                           "const r = s.getBoundingClientRect(); return [r.width, r.height]; })"),
                "thresholds": page.locator("svg.wright-map g.threshold").count(),
                "title": page.title(),
            }
            if screenshot is not None:
                screenshot.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(screenshot))  # the viewport: summary and the Wright map
            return seen
        finally:
            browser.close()


def test_report_renders_offline_in_chromium(report):
    if shutil.which("chromium") is None:
        pytest.skip("Chromium is not installed (apt-get install -y chromium), so the report cannot be rendered")
    pytest.importorskip("playwright.sync_api")
    shot = SCREENSHOT if os.environ.get("LEAP_WRITE_DOCS_SCREENSHOT") == "1" else None
    seen = in_own_thread(look, report, shot)
    assert seen["requests"] == [report.resolve().as_uri()]  # the file itself, nothing else
    assert seen["headings"] == HEADINGS
    assert len(seen["svg_sizes"]) == 4 and all(w > 100 and h > 100 for w, h in seen["svg_sizes"])
    quality = json.loads((report.parent / "quality.json").read_text())
    assert seen["thresholds"] == 49 and quality["summary"]["n_items"] == 25
    assert seen["title"].startswith("Measurement quality: Liking for Science")
