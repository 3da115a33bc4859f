"""Offline Data Docs in a real browser: the pages of a small validated lake, opened in headless Chromium
from disk, request nothing but local files, run their scripts and apply their styles and fonts."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.browser import in_own_thread
from support.expectations import fixture_table, write_raw

from expectations.runner import run_validation
from leap.errors import LeapError
from reports.browser import find_chromium

pytestmark = pytest.mark.slow  # validation, GE's site builder and a browser: ~15 s

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--host-resolver-rules=MAP * ~NOTFOUND"]  # should a page still reach out: nothing resolves
BOOTSTRAP_CSS = "static/vendor/bootstrap-4.3.1/dist/css/bootstrap.min.css"

# What a page has once loaded (run in the page): Bootstrap's grid applied to a probe .container at a
# 1280 px viewport (max-width 1140px), its stylesheet among the document's, the scripts' globals,
# Font Awesome's solid face loadable from its local webfonts, the logo decoded.
PROBE = """async () => {
  document.body.insertAdjacentHTML('beforeend', '<div id="leap-probe" class="container"></div>');
  const faces = await document.fonts.load('900 16px "Font Awesome 6 Free"', '\\uf00c');
  const logo = document.querySelector('.navbar-brand img');
  return {
    containerMaxWidth: getComputedStyle(document.getElementById('leap-probe')).maxWidth,
    sheets: [...document.styleSheets].map(s => s.href).filter(Boolean),
    jquery: typeof window.jQuery,
    bootstrapJs: typeof (window.jQuery && window.jQuery.fn.tooltip),
    bootstrapTable: typeof (window.jQuery && window.jQuery.fn.bootstrapTable),
    datepicker: typeof (window.jQuery && window.jQuery.fn.datepicker),
    popper: typeof window.Popper,
    vegaEmbed: typeof window.vegaEmbed,
    fontAwesomeFaces: faces.map(f => f.status),
    logo: logo ? [logo.getAttribute('src'), logo.complete && logo.naturalWidth > 0] : null,
  };
}"""


def _look_at(pages: list[Path]) -> dict[str, dict]:
    """Open each page in a fresh Chromium page; every request, failure and error it made, and the PROBE."""
    from playwright.sync_api import sync_playwright

    seen: dict[str, dict] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=find_chromium(), args=CHROMIUM_ARGS)
        try:
            for html in pages:
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                record: dict = {"requests": [], "failed": [], "errors": []}
                page.on("request", lambda r, rec=record: rec["requests"].append(r.url))
                page.on("requestfailed", lambda r, rec=record: rec["failed"].append(f"{r.url}: {r.failure}"))
                page.on("pageerror", lambda e, rec=record: rec["errors"].append(str(e)))
                page.on("console", lambda m, rec=record: rec["errors"].append(m.text) if m.type == "error" else None)
                # Belt and braces: a request that is not for a local file is recorded above, then refused.
                page.route(lambda url: not url.startswith("file:"), lambda route: route.abort("blockedbyclient"))
                page.goto(html.as_uri(), wait_until="load")
                record["probe"] = page.evaluate(PROBE)
                seen[html.name] = record
                page.close()
        finally:
            browser.close()
    return seen


@pytest.fixture
def docs(leap_env):
    """Data Docs of a lake with a good and a bad file per suite, validated."""
    from expectations.docs import build_docs

    write_raw(leap_env, fixture_table("raw_teacher_submissions"), ("teacher", "2024-25", "fall"), 0)
    write_raw(leap_env, fixture_table("raw_teacher_submissions", "bad"), ("teacher", "2024-25", "fall"), 1)
    write_raw(leap_env, fixture_table("raw_student_submissions"), ("student", "2024-25", "spring"), 0)
    write_raw(leap_env, fixture_table("raw_student_submissions", "bad"), ("student", "2024-25", "spring"), 2)
    run_validation(leap_env)
    try:
        index, n = build_docs(leap_env)
    except LeapError as exc:
        pytest.fail(f"{exc} (the Data Docs assets are fetched by `make setup`)")
    assert n == 4
    return index


def test_data_docs_render_offline_in_chromium(docs):
    try:
        find_chromium()
    except LeapError as exc:
        pytest.skip(f"Chromium is not installed, so the Data Docs cannot be opened: {exc}")
    site = docs.parent
    validation = sorted(site.glob("validations/**/*.html"))[0]
    suite = sorted(site.glob("expectations/*.html"))[0]
    assert len(validation.relative_to(site).parts) > 2  # a page deeper down than index.html
    seen = in_own_thread(_look_at, [docs, validation, suite])

    for name, record in seen.items():
        probe = record["probe"]
        assert record["requests"], name
        assert [u for u in record["requests"] if not u.startswith("file:")] == [], name
        assert record["failed"] == [] and record["errors"] == [], name
        assert any(u.endswith(BOOTSTRAP_CSS) for u in record["requests"]), name
        assert any(h.endswith(BOOTSTRAP_CSS) for h in probe["sheets"]), name
        assert probe["containerMaxWidth"] == "1140px", name  # Bootstrap's grid is applied
        assert probe["jquery"] == "function", name
        assert {probe[k] for k in ("bootstrapJs", "bootstrapTable", "datepicker", "popper", "vegaEmbed")} \
            == {"function"}, (name, probe)
        assert "loaded" in probe["fontAwesomeFaces"], name  # the webfont resolved from the local css
        assert any("fontawesome-free-6.6.0/webfonts/fa-solid-900" in u for u in record["requests"]), name
        assert probe["logo"] is not None and probe["logo"][1], name
        assert probe["logo"][0].endswith("static/images/logo-long.png"), name
