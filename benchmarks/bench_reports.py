"""Report rendering benchmark: seconds to render every school report of a term at N schools.

    .venv/bin/python benchmarks/bench_reports.py --data-dir /tmp/demo --schools 40 7000 [--pdf-sample 20]

Reads one term's report data from an existing warehouse (e.g. a `leap demo` data directory), then
replicates its schools under new ids up to N (a 1 M-submission year has ~7,000 schools: 72 respondents
a school, two terms) and times the real renderer (reports.build: views, charts, templates, the
forked workers, the atomic writes) into a temporary directory. Rendering cost is per school, so the
replicated schools cost what real ones of the same size do. With --pdf-sample K, also prints K pages to
PDF with headless Chromium and reports seconds per PDF. Writes benchmarks/out/reports.json.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def replicate(data, n: int):
    """ReportData with ``n`` schools: the real ones, then copies under new ids."""
    real = sorted(data.by_school)
    out = copy.copy(data)
    out.by_school, out.schools = {}, {}
    for i in range(n):
        src = real[i % len(real)]
        sid = src if i < len(real) else f"{src}-x{i:05d}"
        out.by_school[sid] = {t: [dict(r, school_id=sid) for r in rows] for t, rows in data.by_school[src].items()}
        out.schools[sid] = dict(data.schools.get(src, {}), school_id=sid)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", required=True, help="a LEAP_DATA_DIR with scored results (leap demo)")
    ap.add_argument("--schools", type=int, nargs="+", default=[40, 7000])
    ap.add_argument("--school-year", default="2024-25")
    ap.add_argument("--term", default="spring")
    ap.add_argument("--pdf-sample", type=int, default=0)
    args = ap.parse_args()
    os.environ["LEAP_DATA_DIR"] = args.data_dir
    from leap.config import load_settings
    from reports import build
    from reports import data as report_data
    from reports.school import Rules

    settings = load_settings()
    rules = Rules(settings.min_cell_n, settings.min_classroom_n, settings.min_response_rate)
    t = time.perf_counter()
    base = report_data.load(settings, args.school_year, args.term)
    load_s = time.perf_counter() - t
    results = []
    for n in args.schools:
        data = replicate(base, n)
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp)
            t = time.perf_counter()
            build._render_schools(data, sorted(data.by_school), out, rules, False, lambda m: None)
            seconds = time.perf_counter() - t
            size = sum(p.stat().st_size for p in (out / "schools").glob("*.html"))
            row = {"schools": n, "render_seconds": round(seconds, 1), "ms_per_school": round(1000 * seconds / n, 1),
                   "html_mb": round(size / 1e6, 1)}
            if args.pdf_sample and n == args.schools[0]:
                ids = sorted(data.by_school)[: args.pdf_sample]
                t = time.perf_counter()
                build._pdfs(out, ids, lambda m: None)
                row["seconds_per_pdf"] = round((time.perf_counter() - t) / len(ids), 2)
            results.append(row)
            print(json.dumps(row), flush=True)
    doc = {"machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
           "load_seconds": round(load_s, 1), "term": f"{args.school_year} {args.term}", "results": results}
    (ROOT / "benchmarks" / "out").mkdir(exist_ok=True)
    (ROOT / "benchmarks" / "out" / "reports.json").write_text(json.dumps(doc, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
