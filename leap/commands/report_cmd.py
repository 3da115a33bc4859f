"""`leap report build`: the school, network, LEAP and national reports (docs/reports.md).

Examples::

    leap report build                                   # the latest school year, every term, with PDFs
    leap report build --school-year 2024-25 --term spring --no-pdf
    leap report build --school SCH-0007 --school SCH-0012 --term spring
"""

from __future__ import annotations

import sys

from leap.config import load_settings


def register(sub) -> None:
    p = sub.add_parser("report", help="school reports (HTML + PDF), network and LEAP indexes, national report")
    rsub = p.add_subparsers(dest="report_command", metavar="SUBCOMMAND", required=True)
    b = rsub.add_parser("build", help="render the reports of a school year and term from the warehouse",
                        description="Writes $LEAP_DATA_DIR/reports/<school_year>/<term>/: index.html, "
                                    "national.html, networks/<sample>.html, schools/<school>.html and .pdf, "
                                    "manifest.json (files, sha256, schools).")
    b.add_argument("--school", action="append", metavar="SCHOOL_ID",
                   help="only this school (repeatable); the indexes and national report are left as they are")
    b.add_argument("--school-year", metavar="YYYY-YY", help="default: the latest school year with results")
    b.add_argument("--term", help="default: every term of the school year with results")
    b.add_argument("--no-pdf", dest="pdf", action="store_false", help="HTML only (no headless Chromium)")
    b.set_defaults(func=_build)


def _build(args) -> int:
    from reports.build import build_reports

    settings = load_settings()
    built = build_reports(settings, school_year=args.school_year, term=args.term, schools=args.school,
                          pdf=args.pdf, progress=lambda m: print(m, file=sys.stderr, flush=True))
    for b in built:
        pdfs = f", {b.n_pdfs} PDFs" if b.n_pdfs else ""
        print(f"{b.school_year} {b.term}: {len(b.schools)} school reports{pdfs} in {b.seconds:.1f} s -> {b.index}")
    return 0
