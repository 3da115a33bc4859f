"""Offline Data Docs, the fast part: CDN URLs rewritten to relative local paths per page depth, what
stays (plain links), what goes (the S3 logos, SRI attributes), the checks on the fetched bundle, and the
pins of infra/gx-assets (every pinned tarball has a SHA-256, every CDN URL names an extracted file)."""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path

import pytest

from expectations.docs_assets import (
    load_assets,
    make_offline,
    remote_loads,
    rewrite_css,
    rewrite_html,
)
from leap.errors import LeapError

JQ = "https://code.jquery.com/jquery-3.7.1.min.js"
BS_CSS = "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css"
LOGO = "https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/logo-long.png?d=20240101T000000Z"
DARK = "https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/full_logo_dark.png"
URLS = {JQ: "jquery-3.7.1/dist/jquery.min.js", BS_CSS: "bootstrap-4.3.1/dist/css/bootstrap.min.css"}

PAGE = f"""<html><head>
<link rel="stylesheet" href="{BS_CSS}"/>
<style>.navbar-brand a {{ background: url('{DARK}') 0 0 no-repeat; }}</style>
<script src="{JQ}" integrity="sha384-abc" crossorigin="anonymous"></script>
<link rel="shortcut icon" href="../../../static/images/favicon.ico" type="image/x-icon"/>
</head><body>
<a href="#"><img
   class="NO-CACHE"
   src="{LOGO}"
   alt="Great Expectations"/></a>
<a href="https://greatexpectations.io/newsletter?utm_source=datadocs">Subscribe</a>
</body></html>"""


@pytest.fixture
def site(tmp_path) -> Path:
    site = tmp_path / "gx"
    for rel in ("static/images/logo-long.png", "static/images/favicon.ico"):
        (site / rel).parent.mkdir(parents=True, exist_ok=True)
        (site / rel).write_bytes(b"\x89PNG")
    return site


def test_cdn_urls_become_paths_relative_to_each_page(site):
    vendor = site / "static" / "vendor"
    top = rewrite_html(PAGE, site / "index.html", site, vendor, URLS)
    deep = rewrite_html(PAGE, site / "validations" / "suite" / "run" / "batch" / "page.html", site, vendor, URLS)
    assert '<script src="static/vendor/jquery-3.7.1/dist/jquery.min.js"></script>' in top
    assert 'href="static/vendor/bootstrap-4.3.1/dist/css/bootstrap.min.css"' in top
    assert 'src="static/images/logo-long.png"' in top
    assert '<script src="../../../../static/vendor/jquery-3.7.1/dist/jquery.min.js"></script>' in deep
    assert 'href="../../../../static/vendor/bootstrap-4.3.1/dist/css/bootstrap.min.css"' in deep
    assert 'src="../../../../static/images/logo-long.png"' in deep
    for html in (top, deep):
        assert "integrity" not in html and "crossorigin" not in html  # a file: page cannot do the CORS fetch
        assert "background: none 0 0 no-repeat" in html  # the dark-mode S3 logo has no local copy
        assert 'href="https://greatexpectations.io/newsletter?utm_source=datadocs">Subscribe</a>' in html
        assert remote_loads(html) == []
    # GE links the favicon of a validation page one folder too shallow; the rewrite fixes the depth
    assert 'href="../../../../static/images/favicon.ico"' in deep


def test_an_image_without_local_copy_is_dropped_and_unknown_urls_are_reported(site):
    (site / "static" / "images" / "logo-long.png").unlink()
    other = '<script src="https://cdn.example.org/lib.js"></script><img src="//cdn.example.org/x.png">'
    html = rewrite_html(PAGE + other, site / "index.html", site, site / "static" / "vendor", URLS)
    assert html.count("<img") == 1 and "logo-long.png" not in html  # only the unknown image is left
    assert "https://cdn.example.org/lib.js" in html  # not ours to map: left as it was, and reported
    assert remote_loads(html) == ["https://cdn.example.org/lib.js", "//cdn.example.org/x.png"]


def test_remote_loads_sees_styles_images_and_css_but_not_links():
    html = ("<link rel=stylesheet href='https://a.example/x.css'><link rel=canonical href='https://a.example/'>"
            "<img srcset='https://a.example/1.png 1x, local.png 2x'><div style=\"background:url(http://a.example/b.png)\">"
            "<style>@import 'https://a.example/i.css';</style><a href='https://a.example/page'>x</a>")
    assert remote_loads(html) == ["https://a.example/x.css", "https://a.example/1.png", "http://a.example/b.png",
                                  "https://a.example/i.css"]


def test_stylesheet_urls_relative_to_the_sheet(site):
    css = f"@font-face {{ src: url(\"{JQ}\"); }} .x {{ background: url({DARK}) }} .y {{ background: url(data:x) }}"
    out = rewrite_css(css, site / "static" / "styles" / "a.css", site, site / "static" / "vendor", URLS)
    assert out == ('@font-face { src: url("../vendor/jquery-3.7.1/dist/jquery.min.js"); } .x { background: none } '
                   ".y { background: url(data:x) }")


def _bundle(root: Path) -> Path:
    files = {"jquery-3.7.1/dist/jquery.min.js": b"window.jQuery = function () {};",
             "bootstrap-4.3.1/dist/css/bootstrap.min.css": b".container{max-width:1140px}"}
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    manifest = {"urls": URLS, "packages": {"jquery": {"version": "3.7.1", "dir": "jquery-3.7.1"},
                                           "bootstrap": {"version": "4.3.1", "dir": "bootstrap-4.3.1"}}}
    (root / "manifest.json").write_text(json.dumps(manifest))
    files["manifest.json"] = (root / "manifest.json").read_bytes()
    (root / "FILES.sha256").write_text("".join(f"{hashlib.sha256(d).hexdigest()}  {r}\n" for r, d in files.items()))
    return root


def test_make_offline_copies_the_bundle_and_rewrites_every_page(site, tmp_path):
    bundle = load_assets(_bundle(tmp_path / "assets"))
    deep = site / "validations" / "s" / "page.html"
    deep.parent.mkdir(parents=True)
    for page in (site / "index.html", deep):
        page.write_text(PAGE)
    (site / "static" / "styles").mkdir()
    (site / "static" / "styles" / "default.css").write_text(f".a {{ background: url('{DARK}') }}")
    assert make_offline(site, bundle) == 3
    assert (site / "static/vendor/jquery-3.7.1/dist/jquery.min.js").is_file()
    assert not (site / "static/vendor/manifest.json").exists()
    assert 'src="../../static/vendor/jquery-3.7.1/dist/jquery.min.js"' in deep.read_text()
    assert (site / "static" / "styles" / "default.css").read_text() == ".a { background: none }"
    assert make_offline(site, bundle) == 0  # a second build over the same site: nothing left to rewrite


def test_a_page_still_loading_from_a_cdn_fails_the_build(site, tmp_path):
    bundle = load_assets(_bundle(tmp_path / "assets"))
    (site / "index.html").write_text('<script src="https://cdn.jsdelivr.net/npm/new-lib@1"></script>')
    with pytest.raises(LeapError, match="still load from the network: https://cdn.jsdelivr.net/npm/new-lib@1") as info:
        make_offline(site, bundle)
    assert "infra/gx-assets/assets.json" in info.value.hint


def test_missing_or_changed_assets_name_the_fix(tmp_path):
    with pytest.raises(LeapError, match="not fetched") as info:
        load_assets(tmp_path / "nothing")
    assert "make setup" in info.value.hint
    root = _bundle(tmp_path / "assets")
    (root / "jquery-3.7.1/dist/jquery.min.js").write_text("tampered")
    with pytest.raises(LeapError, match="changed since it was fetched") as info:
        load_assets(root)
    assert "make setup" in info.value.hint


def test_build_docs_refuses_before_writing_when_assets_are_missing(leap_env, monkeypatch, tmp_path):
    from expectations.docs import build_docs

    monkeypatch.setenv("LEAP_GX_ASSETS", str(tmp_path / "nothing"))
    with pytest.raises(LeapError, match="not fetched"):
        build_docs(leap_env)
    assert not leap_env.layout.gx_docs.exists()


def test_the_pins_are_consistent():
    spec = importlib.util.spec_from_file_location(
        "gx_assets_fetch", Path(__file__).resolve().parents[2] / "infra" / "gx-assets" / "fetch.py")
    fetch = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fetch)
    packages = fetch.load_assets()  # raises when a CDN URL names a file the package does not extract
    sums = fetch.read_sums()
    assert set(sums) == {fetch.tarball_name(p) for p in packages}
    assert all(len(d) == 64 for d in sums.values())
    versions = {p["name"]: p["version"] for p in packages}
    assert versions["vega"].startswith("5.") and versions["vega-lite"].startswith("5.")
    assert versions["vega-embed"].startswith("6.")
