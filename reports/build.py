"""``leap report build``: render the school, network, LEAP and national reports of a school year and
term into ``$LEAP_DATA_DIR/reports/<school_year>/<term>/`` with a manifest.

::

    reports/<school_year>/<term>/
      index.html                 LEAP: every network and school, and the national report
      national.html              the national scan's structure, from the group marts
      networks/<sample>.html     one index per network (sample)
      schools/<school_id>.html   one self-contained page per school (+ .pdf)
      manifest.json              every file with its sha256 and size, the schools, the rules

Pages are self-contained (inline CSS and SVG, no script, no request) and deterministic: the same
marts give the same bytes, so a rerun rewrites nothing a partner would see as changed.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from leap import instrument
from leap.config import Settings
from leap.errors import LeapError
from leap.fsutil import sha256_file, write_atomic
from reports import data as report_data
from reports import wording
from reports.national import build_national
from reports.school import Rules, build_school

TEMPLATES = Path(__file__).parent / "templates"


@dataclass
class Built:
    school_year: str
    term: str
    directory: Path
    schools: list[str]
    n_pdfs: int
    seconds: float

    @property
    def index(self) -> Path:
        return self.directory / "index.html"

    @property
    def manifest(self) -> Path:
        return self.directory / "manifest.json"


@lru_cache(maxsize=1)
def _env():
    import jinja2

    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True,
                              undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def render(template: str, view: dict) -> str:
    return _env().get_template(template).render(r=view)


def build_reports(settings: Settings, *, school_year: str | None = None, term: str | None = None,
                  schools: list[str] | None = None, pdf: bool = True,
                  progress: Callable[[str], None] | None = None) -> list[Built]:
    """Render the reports of every (school year, term) asked for; the latest school year by default."""
    pairs = _pairs(settings, school_year, term)
    return [_build_one(settings, y, t, schools, pdf, progress or (lambda _m: None)) for y, t in pairs]


def _pairs(settings: Settings, school_year: str | None, term: str | None) -> list[tuple[str, str]]:
    have = report_data.available_terms(settings)
    if not have:
        raise LeapError("the warehouse has no school results yet", hint="run the pipeline first: `leap run-all`")
    year = school_year or have[-1][0]
    pairs = [(y, t) for y, t in have if y == year and (term is None or t == term)]
    if not pairs:
        known = ", ".join(f"{y} {t}" for y, t in have)
        raise LeapError(f"no school results for {year}{' ' + term if term else ''}", hint=f"results exist for: {known}")
    return pairs


def _build_one(settings: Settings, year: str, term: str, only: list[str] | None, pdf: bool,
               progress: Callable[[str], None]) -> Built:
    start = time.perf_counter()
    rules = Rules(settings.min_cell_n, settings.min_classroom_n, settings.min_response_rate)
    data = report_data.load(settings, year, term, only)
    out = settings.layout.reports_dir(year, term)
    ids = sorted(s for s in data.by_school if only is None or s in only)
    unknown = sorted(set(only or ()) - set(ids))
    if unknown:
        raise LeapError(f"no results for school(s) {', '.join(unknown)} in {year} {term}",
                        hint="`leap status` lists the schools; check the id and the term")
    index_rows = _render_schools(data, ids, out, rules, pdf, progress)
    n_pdfs = _pdfs(out, ids, progress) if pdf else 0
    if only is None:  # a full build: the indexes, the national report, and no page of a school now gone
        _remove_stale(out, ids, pdf)
        _indexes(out, data, index_rows)
        write_atomic(out / "national.html", render("national.html.j2", build_national(data, rules.min_n)).encode())
    _manifest(out, year, term, data, rules)
    return Built(year, term, out, ids, n_pdfs, time.perf_counter() - start)


# The school pages are independent: render them in forked workers that inherit the loaded data (no
# pickling of the marts), each writing its own files and returning only its index rows. The views are
# dropped as soon as a page is written: at 1 M submissions they would be gigabytes.
_SHARED: dict = {}


def _render_schools(data: report_data.ReportData, ids: list[str], out: Path, rules: Rules, pdf: bool,
                    progress: Callable[[str], None]) -> list[dict]:
    _SHARED.update(data=data, out=out, rules=rules, pdf=pdf)
    chunks = [ids[i:i + 100] for i in range(0, len(ids), 100)]
    workers = min(os.cpu_count() or 1, 4, len(chunks))
    rows: list[dict] = []
    try:
        if workers <= 1:
            results = map(_render_chunk, chunks)
        else:
            pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"))
            results = pool.map(_render_chunk, chunks)
        for chunk_rows in results:
            rows += chunk_rows
            progress(f"{data.school_year} {data.term}: rendered {len(rows)}/{len(ids)} school reports")
    finally:
        if workers > 1:
            pool.shutdown()
        _SHARED.clear()
    return rows


def _render_chunk(ids: list[str]) -> list[dict]:
    data, out, rules, pdf = _SHARED["data"], _SHARED["out"], _SHARED["rules"], _SHARED["pdf"]
    rows = []
    for school_id in ids:
        view = build_school(data, school_id, rules)
        write_atomic(out / "schools" / f"{school_id}.html", render("school.html.j2", view).encode())
        rows.append(_index_row(view, pdf))
    return rows


def _pdfs(out: Path, ids: list[str], progress: Callable[[str], None]) -> int:
    """Print every school page to PDF: one headless Chromium per worker thread (Playwright's sync API
    wants its own thread; the caller's thread may hold a browser of its own), slices of the schools each."""
    workers = max(1, min(os.cpu_count() or 1, 2, len(ids) // 20 or 1))
    slices = [ids[i::workers] for i in range(workers)]
    done = [0]
    lock = threading.Lock()

    def tick() -> None:
        with lock:
            done[0] += 1
            if done[0] % 50 == 0 or done[0] == len(ids):
                progress(f"printed {done[0]}/{len(ids)} PDFs")

    with ThreadPoolExecutor(workers) as pool:
        for _ in pool.map(lambda part: _print_slice(out, part, tick), slices):
            pass
    return len(ids)


def _print_slice(out: Path, ids: list[str], tick: Callable[[], None]) -> None:
    from reports.browser import offline_browser

    with offline_browser() as browser:
        for school_id in ids:
            html = out / "schools" / f"{school_id}.html"
            _pin_dates(browser.pdf(html, html.with_suffix(".pdf")))
            tick()


_PDF_DATE = re.compile(rb"/(CreationDate|ModDate) \(D:[0-9]{14}")


def _pin_dates(path: Path) -> None:
    """Chromium stamps the print time into the PDF's Info dictionary; the same page must give the same
    bytes (a partner refresh versions its files by checksum), so the stamps are set to the epoch. The
    replacement has the same length, so the cross-reference offsets stay valid."""
    pdf = path.read_bytes()
    pinned = _PDF_DATE.sub(lambda m: m.group(0)[:-14] + b"19700101000000", pdf)
    if pinned != pdf:
        write_atomic(path, pinned)


def _indexes(out: Path, data: report_data.ReportData, rows: list[dict]) -> None:
    names = instrument.sample_names()
    columns = [instrument.component_names()[c] for c in instrument.scaled_components()]
    networks = sorted({r["sample"] for r in rows if r["sample"]})
    for sample in networks:
        mine = [dict(r, href="../" + r["href"], pdf=r["pdf"] and "../" + r["pdf"])
                for r in rows if r["sample"] == sample]
        view = {"title": f"{names.get(sample, sample)}: school reports", "school_year": data.school_year,
                "term": data.term, "schools": mine, "columns": columns,
                "links": [("All reports", "../index.html"), ("National report", "../national.html")]}
        write_atomic(out / "networks" / f"{sample}.html", render("index.html.j2", view).encode())
    links = [("National and network report", "national.html")]
    links += [(names.get(s, s), f"networks/{s}.html") for s in networks]
    view = {"title": "LEAP Personalized Learning Surveys: all reports", "school_year": data.school_year,
            "term": data.term, "schools": rows, "columns": columns, "links": links}
    write_atomic(out / "index.html", render("index.html.j2", view).encode())


def _index_row(view: dict, with_pdf: bool) -> dict:
    teacher = next((s for s in view["sections"] if s["instrument"] == "teacher"), None)
    values = [row["mean"] if not row["reason"] else "–" for row in teacher["scales"]["rows"]] if teacher else []
    sid = view["school_id"]
    return {"school_id": sid, "sample": view["school"].get("sample"), "network": view["network"],
            "grade_band": view["school"].get("grade_band") or "", "scale_means": values,
            "href": f"schools/{sid}.html", "pdf": f"schools/{sid}.pdf" if with_pdf else None}


def _remove_stale(out: Path, ids: list[str], pdf: bool) -> None:
    keep = {f"{s}.html" for s in ids} | ({f"{s}.pdf" for s in ids} if pdf else set())
    for path in (out / "schools").glob("*"):
        if path.name not in keep:
            path.unlink()


def _manifest(out: Path, year: str, term: str, data: report_data.ReportData, rules: Rules) -> None:
    """Every file of the directory as it is now (a one-school build updates its entries)."""
    files = []
    for path in sorted(p for p in out.rglob("*") if p.is_file() and p.name != "manifest.json"):
        rel = path.relative_to(out).as_posix()
        school = path.stem if rel.startswith("schools/") else None
        sample = data.schools.get(school, {}).get("sample") if school else None
        files.append({"path": rel, "sha256": sha256_file(path), "bytes": path.stat().st_size,
                      "school_id": school, "sample": sample})
    ids = sorted({f["school_id"] for f in files if f["school_id"]})
    doc = {"school_year": year, "term": term, "schools": ids, "files": files,
           "rules": {"min_n": rules.min_n, "min_classroom_n": rules.min_classroom_n,
                     "min_response_rate": rules.min_response_rate},
           "wording": {k: wording.suppression_text(k, rules.min_n) for k in wording.SUPPRESSION}}
    write_atomic(out / "manifest.json", (json.dumps(doc, indent=1, sort_keys=True) + "\n").encode())
