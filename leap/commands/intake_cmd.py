"""`leap intake serve|codes|openapi`: the survey intake service and its access codes (docs/intake.md)."""

from __future__ import annotations

import csv
import json
import os
import signal
import sys
from datetime import UTC, datetime

from leap.config import load_settings
from leap.errors import EXIT_FAILED, EXIT_OK, LeapError

# uvicorn configures logging in every worker process it starts: the `leap` format, and kafka-python kept
# quiet (its producer logs record values, raw respondent ids included, at DEBUG).
LOG_CONFIG = {
    "version": 1, "disable_existing_loggers": False,
    "formatters": {"leap": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "leap", "stream": "ext://sys.stderr"}},
    "root": {"handlers": ["stderr"], "level": "INFO"},
    "loggers": {"kafka": {"level": "WARNING"}},
}


def register(sub) -> None:
    p = sub.add_parser("intake", help="the survey intake service: serve it, issue and revoke access codes",
                       description="Teachers and students take the survey in a browser; the service checks each "
                                   "submission like the ingestion does and produces it to Kafka.")
    isub = p.add_subparsers(dest="intake_command", metavar="ACTION", required=True)
    serve = isub.add_parser("serve", help="run the HTTP service until SIGTERM/SIGINT (then flush and exit)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument("--workers", type=int, default=1, help="server processes (default 1)")
    serve.add_argument("--no-access-log", action="store_true", help="no line per request")
    serve.set_defaults(func=_serve)
    _register_codes(isub)
    spec = isub.add_parser("openapi", help="print the OpenAPI description (intake/openapi.json is this output)")
    spec.set_defaults(func=_openapi, uses_data_dir=False)


def _register_codes(isub) -> None:
    codes = isub.add_parser("codes", help="access codes: issue, list, revoke")
    csub = codes.add_subparsers(dest="codes_command", metavar="ACTION", required=True)
    issue = csub.add_parser("issue", help="issue access codes for one school, instrument and term; printed once")
    issue.add_argument("--school", required=True, help="school id, as in the events (e.g. SCH-0001)")
    issue.add_argument("--instrument", required=True, help="teacher or student")
    issue.add_argument("--term", required=True, help="fall, winter or spring")
    issue.add_argument("--school-year", help="e.g. 2026-27 (default: the school year of today)")
    issue.add_argument("--grade-band", required=True, help="the school's grade band: elementary, middle or high")
    issue.add_argument("--sample", default="leap_network", help="the school's sample (default leap_network)")
    how_many = issue.add_mutually_exclusive_group(required=True)
    how_many.add_argument("--count", type=int, help="how many codes")
    how_many.add_argument("--follow", metavar="[YEAR:]TERM",
                          help="one single-use code per respondent of that term's single-use codes, same numbers "
                               "(fall-to-spring matching)")
    issue.add_argument("--single-use", action="store_true", help="each code works for one submission")
    issue.add_argument("--csv", action="store_true", help="print number,code,link as CSV")
    issue.set_defaults(func=_issue)
    ls = csub.add_parser("list", help="issued batches: survey, codes, used, revoked (never the codes)")
    ls.add_argument("--json", action="store_true", help="machine-readable output")
    ls.set_defaults(func=_list)
    revoke = csub.add_parser("revoke", help="revoke a batch or one code: submissions with it are refused")
    which = revoke.add_mutually_exclusive_group(required=True)
    which.add_argument("--batch", help="a batch id from `leap intake codes list`")
    which.add_argument("--code", help="one access code")
    revoke.set_defaults(func=_revoke)


# --------------------------------------------------------------------------- serve


def _serve(args) -> int:
    import uvicorn

    from intake.access import CodeStore
    from intake.keys import load_keyring

    settings = load_settings()
    load_keyring(settings)  # the key file and the database exist before several workers race to make them
    CodeStore(settings.layout.intake_codes).close()
    # uvicorn stops gracefully on SIGTERM (in-flight requests answered, producer flushed), then re-raises the
    # signal: caught here, so a clean stop exits 0 like `leap ingest --service`.
    signal.signal(signal.SIGTERM, lambda *_: None)
    uvicorn.run("intake.app:create_app", factory=True, host=args.host, port=args.port, workers=args.workers,
                proxy_headers=True, forwarded_allow_ips=os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1"),
                log_config=LOG_CONFIG, access_log=not args.no_access_log, server_header=False,
                timeout_graceful_shutdown=30)
    return EXIT_OK


def _openapi(args) -> int:
    from intake.app import openapi_document

    sys.stdout.write(openapi_document())
    return EXIT_OK


# --------------------------------------------------------------------------- codes


def _store_and_keys():
    from intake.access import CodeStore
    from intake.keys import load_keyring

    settings = load_settings()
    return CodeStore(settings.layout.intake_codes), load_keyring(settings)


def _issue(args) -> int:
    from intake.config import load_intake_config

    survey = _survey(args.school, args.instrument, args.school_year, args.term)
    follow = _followed(survey, args.follow) if args.follow else None
    _check_school(args.grade_band, args.sample, args.count)
    store, keyring = _store_and_keys()
    try:
        batch, codes = store.issue(keyring, survey, grade_band=args.grade_band, sample=args.sample,
                                   count=args.count or 0, single_use=args.single_use, follow=follow)
    finally:
        store.close()
    link = load_intake_config().public_url + survey.path
    if args.csv:
        out = csv.writer(sys.stdout, lineterminator="\n")
        out.writerow(["number", "code", "link"])
        out.writerows([n, code, link] for n, code in codes)
    else:
        _print_codes(survey, link, batch, codes, "single-use" if args.single_use or follow else "shared")
    return EXIT_OK


def _print_codes(survey, link: str, batch: str, codes: list[tuple[int, str]], kind: str) -> None:
    from intake.forms import window_text

    print(f"Survey link: {link}\nOpen: {window_text(survey)}")
    print(f"{len(codes)} {kind} access code{'s' if len(codes) != 1 else ''} (batch {batch}), shown this once: only "
          "their hashes are kept.")
    print("   No.  Code")
    for number, code in codes:
        print(f"{number:>6}  {code}")


def _survey(school: str, name: str, school_year: str | None, term: str):
    from intake.access import Survey, current_school_year, survey_problem

    survey = Survey(school, name, school_year or current_school_year(datetime.now(UTC)), term)
    problem = survey_problem(survey)
    if problem:
        raise LeapError(problem, hint="see `leap intake codes issue --help`")
    return survey


def _followed(survey, follow: str):
    year, _, term = follow.rpartition(":")
    return _survey(survey.school_id, survey.instrument, year or survey.school_year, term)


def _check_school(grade_band: str, sample: str, count: int | None) -> None:
    from leap import instrument

    if grade_band not in instrument.grade_bands():
        raise LeapError(f"grade band {grade_band!r} is not one of {', '.join(instrument.grade_bands())}")
    if sample not in instrument.samples():
        raise LeapError(f"sample {sample!r} is not one of {', '.join(instrument.samples())}")
    if count is not None and not 1 <= count <= 10_000:
        raise LeapError(f"--count {count}: issue between 1 and 10000 codes at a time")


def _list(args) -> int:
    store, _ = _store_and_keys()
    try:
        rows = store.batches()
    finally:
        store.close()
    if args.json:
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    print(f"{'batch':<13}{'issued (UTC)':<21}{'school':<12}{'survey':<24}{'kind':<11}{'codes':>6}{'used':>6}"
          f"{'revoked':>8}")
    for r in rows:
        survey = f"{r['instrument']} {r['school_year']} {r['term']}"
        kind = "single-use" if r["single_use"] else "shared"
        print(f"{r['batch_id']:<13}{r['issued_at'][:19].replace('T', ' '):<21}{r['school_id']:<12}{survey:<24}"
              f"{kind:<11}{r['codes']:>6}{r['used']:>6}{r['revoked']:>8}")
    return EXIT_OK


def _revoke(args) -> int:
    store, keyring = _store_and_keys()
    try:
        n = store.revoke_batch(args.batch) if args.batch else store.revoke_code(keyring, args.code)
    finally:
        store.close()
    print(f"revoked {n} access code{'s' if n != 1 else ''}")
    return EXIT_OK if n else EXIT_FAILED
