"""The report browser is offline, prints paged PDFs and lets tests read the rendered page."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from support.browser import in_own_thread

from leap.errors import LeapError
from reports import browser as browser_module
from reports.browser import find_chromium, offline_browser, pdf_page_count

SVG = ('<svg xmlns="http://www.w3.org/2000/svg" width="120" height="40" viewBox="0 0 120 40">'
       '<rect width="120" height="40" fill="#2a6"/><text x="6" y="26">chart</text></svg>')
PIXEL = ("data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"
         "YPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==")


def write_html(directory: Path, name: str, head: str = "", body: str = "") -> Path:
    path = directory / name
    path.write_text(f'<!doctype html><html><head><meta charset="utf-8"><title>{name}</title>{head}</head>'
                    f"<body>{body}</body></html>", encoding="utf-8")
    return path


def test_external_requests_are_blocked_and_recorded(browser, tmp_path):
    html = write_html(
        tmp_path, "leaky.html",
        head='<link rel="stylesheet" href="https://cdn.example/x.css">',
        body=f'<h1>Leaky report</h1>{SVG}<img src="http://example.com/x.png" alt="logo">',
    )
    page = browser.open(html)
    try:
        assert "http://example.com/x.png" in browser.blocked_requests
        assert "https://cdn.example/x.css" in browser.blocked_requests
        assert page.locator("svg rect").count() == 1  # the inline SVG rendered all the same
    finally:
        page.close()


def test_self_contained_page_makes_no_request(browser, tmp_path):
    html = write_html(
        tmp_path, "clean.html",
        head="<style>h1 { color: #123; background: url('data:image/gif;base64,R0lGODlhAQABAAAAACw=') }</style>",
        body=f'<h1>Clean report</h1>{SVG}<img src="{PIXEL}" alt="dot"><script>document.title = "ran";</script>',
    )
    page = browser.open(html)
    try:
        assert browser.blocked_requests == []
        assert page.title() == "ran"
        assert page.evaluate("() => document.images[0].complete && document.images[0].naturalWidth") == 1
    finally:
        page.close()


def test_script_fetches_and_websockets_are_blocked(browser, tmp_path):
    html = write_html(tmp_path, "scripted.html", body="<p id=out>waiting</p>")
    page = browser.open(html)
    try:
        outcome = page.evaluate("""async () => {
            const fetched = await fetch("https://api.example/data.json").then(() => "fetched", () => "failed");
            const ws = await new Promise(resolve => {
                const socket = new WebSocket("wss://socket.example/live");
                socket.onopen = () => resolve("open");
                socket.onclose = () => resolve("closed");
                socket.onerror = () => resolve("closed");
            });
            return [fetched, ws];
        }""")
        assert outcome == ["failed", "closed"]
        assert "https://api.example/data.json" in browser.blocked_requests
        assert "wss://socket.example/live" in browser.blocked_requests
    finally:
        page.close()


def test_text_is_readable_through_the_page(browser, tmp_path):
    html = write_html(tmp_path, "text.html",
                      body="<main><h1>Lincoln Elementary</h1><p class=score>Reading: 72% proficient</p></main>")
    page = browser.open(html)
    try:
        assert page.inner_text("h1") == "Lincoln Elementary"
        assert "Reading: 72% proficient" in page.inner_text("main")
    finally:
        page.close()


def test_pdf_has_a_page_per_forced_break(browser, tmp_path):
    sections = "".join(
        f'<section style="{"break-before: page" if i else ""}"><h2>Part {i}</h2>{SVG}</section>' for i in range(4)
    )
    html = write_html(tmp_path, "paged.html", head="<style>h2 { background: #fd0 }</style>", body=sections)
    pdf = browser.pdf(html, tmp_path / "out" / "paged.pdf")
    assert pdf == tmp_path / "out" / "paged.pdf"
    assert 3 <= pdf_page_count(pdf) <= 4
    assert browser.blocked_requests == []


def media_boxes(pdf: Path) -> list[tuple[float, float]]:
    boxes = re.findall(rb"/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)\s*\]", pdf.read_bytes())
    return [(float(w), float(h)) for w, h in boxes]


def test_pdf_paper_and_orientation(browser, tmp_path):
    html = write_html(tmp_path, "one.html", body="<p>One page</p>")
    portrait = browser.pdf(html, tmp_path / "a4.pdf")
    landscape = browser.pdf(html, tmp_path / "letter.pdf", landscape=True, paper="Letter", page_numbers=False)
    assert pdf_page_count(portrait) == pdf_page_count(landscape) == 1
    (w, h), = set(media_boxes(portrait))
    assert w == pytest.approx(595.3, abs=1.5) and h == pytest.approx(841.9, abs=1.5)  # A4 in points
    (w, h), = set(media_boxes(landscape))
    assert w == pytest.approx(792, abs=1.5) and h == pytest.approx(612, abs=1.5)  # Letter, landscape


def test_one_print_page_serves_many_documents(browser, tmp_path):
    for i in range(3):
        html = write_html(tmp_path, f"r{i}.html", body=f"<p>Report {i}</p>" + '<div style="break-before: page">x</div>' * i)
        assert pdf_page_count(browser.pdf(html, tmp_path / f"r{i}.pdf")) == i + 1


def test_profile_directory_is_removed_even_when_the_block_fails(monkeypatch, tmp_path):
    try:
        find_chromium()
    except LeapError as exc:
        pytest.skip(f"Chromium is not installed: {exc}")
    made: list[str] = []
    real_mkdtemp = browser_module.tempfile.mkdtemp

    def recording_mkdtemp(*args, **kwargs):
        made.append(real_mkdtemp(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(browser_module.tempfile, "mkdtemp", recording_mkdtemp)
    html = write_html(tmp_path, "x.html", body="<p>x</p>")

    def fail_inside():
        with offline_browser() as own:
            own.open(html)
            assert Path(made[0]).is_dir()
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        in_own_thread(fail_inside)
    assert len(made) == 1 and not Path(made[0]).exists()


def test_closed_browser_and_second_browser_in_a_thread_say_what_to_do(browser, tmp_path):
    with pytest.raises(LeapError, match="already open in this thread") as info:
        with offline_browser():
            pass
    assert "another thread" in info.value.hint

    html = write_html(tmp_path, "x.html", body="<p>x</p>")

    def open_after_close():
        with offline_browser() as own:
            pass
        own.open(html)

    with pytest.raises(LeapError, match="closed"):
        in_own_thread(open_after_close)


def test_missing_chromium_names_the_fix(monkeypatch):
    monkeypatch.setenv("LEAP_CHROMIUM", "/nonexistent/chromium")
    with pytest.raises(LeapError) as info:
        find_chromium()
    assert "LEAP_CHROMIUM" in info.value.message
    assert "apt-get install -y chromium" in info.value.hint
    monkeypatch.delenv("LEAP_CHROMIUM")
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(LeapError) as info:
        find_chromium()
    assert "apt-get install -y chromium" in info.value.hint


def test_chromium_override(monkeypatch, tmp_path):
    fake = tmp_path / "my-chromium"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setenv("LEAP_CHROMIUM", str(fake))
    assert find_chromium() == str(fake)


def test_refuses_to_start_inside_an_event_loop():
    async def inside_loop():
        with offline_browser():
            pass

    with pytest.raises(LeapError, match="asyncio") as info:
        in_own_thread(lambda: asyncio.run(inside_loop()))
    assert "asyncio.to_thread" in info.value.hint


def test_pdf_page_count_rejects_other_files(tmp_path):
    not_pdf = tmp_path / "x.pdf"
    not_pdf.write_bytes(b"<html></html>")
    with pytest.raises(LeapError, match="not a PDF"):
        pdf_page_count(not_pdf)
    fake = tmp_path / "fake.pdf"
    fake.write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Pages /Kids [2 0 R 3 0 R] /Count 2 >> endobj\n"
                     b"2 0 obj << /Type /Page /Parent 1 0 R >> endobj\n3 0 obj <</Type/Page/Parent 1 0 R>> endobj\n")
    assert pdf_page_count(fake) == 2
