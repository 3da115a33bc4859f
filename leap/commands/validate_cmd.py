"""`leap validate`: Great Expectations on every raw file; promote, quarantine, release, docs.

Subcommands (exit codes: 0 done; 1 a data problem the operator asked to hear about: files
quarantined with ``--strict``, a refused release, suites out of date with ``--check``;
2 usage or configuration error; 3 another validation run holds the lock):

``run [--instrument NAME]... [--revalidate | --force] [--strict] [--json] [--quiet]``
    validate every raw file that has not been validated yet; ``--revalidate`` also re-checks files
    validated under another suite version (found by the suite's sha256); ``--force`` re-checks
    every file except released ones.
``status [--json]``
    files per outcome, files pending, files stale (validated under an older suite).
``quarantine list [--json]``
    quarantined files with their failed checks and sample unexpected values.
``release FILE --reason TEXT [--by NAME] [--fixed PATH | --override]``
    promote a quarantined file: it must pass now (or the ``--fixed`` file must), unless
    ``--override``; who and why are recorded.
``docs [--limit N]``
    build Data Docs (static HTML) into ``$LEAP_DATA_DIR/docs/gx/``.
``suites [--write | --check]``
    list the suites; regenerate them from the instrument definition; or fail when stale.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from leap.config import load_settings


def register(sub) -> None:
    p = sub.add_parser("validate", help="Great Expectations on raw files: promote, quarantine, release, docs")
    vs = p.add_subparsers(dest="validate_command", metavar="ACTION")
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])

    r = vs.add_parser("run", help="validate every pending raw file (exactly once per suite version)")
    r.add_argument("--instrument", action="append", help="only files of this instrument (repeatable)")
    mode = r.add_mutually_exclusive_group()
    mode.add_argument("--revalidate", action="store_true",
                      help="also re-check files validated under another suite version")
    mode.add_argument("--force", action="store_true", help="re-check every file except released ones")
    r.add_argument("--strict", action="store_true", help="exit 1 when any file was quarantined")
    r.add_argument("--json", action="store_true", help="machine-readable summary")
    r.add_argument("--quiet", action="store_true", help="no progress lines")
    r.set_defaults(func=_run)

    s = vs.add_parser("status", help="files per outcome, pending and stale")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=_status)

    q = vs.add_parser("quarantine", help="quarantined files")
    qs = q.add_subparsers(dest="quarantine_command", metavar="ACTION")
    ql = qs.add_parser("list", help="quarantined files with their reasons")
    ql.add_argument("--json", action="store_true")
    ql.set_defaults(func=_quarantine_list)
    q.set_defaults(func=_quarantine_list, json=False)

    rel = vs.add_parser("release", help="promote a quarantined file after a fix or with an override")
    rel.add_argument("file", help="path under raw/ or quarantine/, or the file name")
    rel.add_argument("--reason", required=True, help="why the file may reach the warehouse")
    rel.add_argument("--by", help="who releases it (default: the login name)")
    how = rel.add_mutually_exclusive_group()
    how.add_argument("--fixed", type=Path, help="a corrected Parquet file to promote instead (must pass)")
    how.add_argument("--override", action="store_true", help="promote although the file still fails")
    rel.set_defaults(func=_release)

    d = vs.add_parser("docs", help="build Data Docs (static HTML) from the recorded results")
    d.add_argument("--limit", type=int, default=200, help="newest results per suite to render (default 200)")
    d.set_defaults(func=_docs)

    su = vs.add_parser("suites", help="list, regenerate (--write) or check (--check) the suites")
    act = su.add_mutually_exclusive_group()
    act.add_argument("--write", action="store_true", help="regenerate expectations/suites/ from the definition")
    act.add_argument("--check", action="store_true", help="exit 1 when the committed suites are stale")
    su.set_defaults(func=_suites)


def _run(args) -> int:
    from expectations.runner import run_validation

    settings = load_settings()
    progress = None
    if not args.quiet and not args.json:
        def progress(i: int, n: int) -> None:
            if i == n or i % 50 == 0:
                print(f"validated {i}/{n} files", file=sys.stderr, flush=True)
    report = run_validation(settings, instruments=args.instrument, revalidate=args.revalidate, force=args.force,
                            on_file=progress)
    if args.json:
        print(json.dumps({"run_id": report.run_id, "validated": len(report.validated),
                          "quarantined": [{"file": f, "rows": n, "failed_checks": c} for f, n, c in report.quarantined],
                          "skipped": report.skipped, "stale": report.stale, "rows": report.rows,
                          "term_checks": report.term_checks, "seconds": round(report.seconds, 3)}, indent=2))
    else:
        _print_run(report)
    return 1 if args.strict and report.quarantined else 0


def _print_run(report) -> None:
    rows_ok = sum(n for _, n in report.validated)
    rows_bad = sum(n for _, n, _ in report.quarantined)
    rate = report.rows / report.seconds if report.seconds else 0.0
    print(f"run {report.run_id}: validated {len(report.validated)} files ({rows_ok:,} rows), "
          f"quarantined {len(report.quarantined)} files ({rows_bad:,} rows), "
          f"already done {report.skipped}; {report.seconds:.1f} s ({rate:,.0f} rows/s)")
    for rel, n, checks in report.quarantined:
        print(f"  QUARANTINED {rel} ({n:,} rows): {', '.join(checks)}")
    if report.stale:
        print(f"{report.stale} file(s) were validated under an older suite version; "
              "re-check them with `leap validate run --revalidate`")
    if report.quarantined:
        print("see `leap validate quarantine list` for the reasons")
    for f in report.term_checks:  # batch statistics of a whole term (expectations.term_checks)
        what = f"item {f['item']} skipped by" if f["check"] == "skips" else "submissions answering enough:"
        print(f"  TERM CHECK {f['instrument']} {f['school_year']} {f['term']}: {what} {f['value']:.1%} "
              f"(limit {f['limit']:.0%}); no file quarantined for it — look at the sources of this term")


def _status(args) -> int:
    from collections import Counter

    from expectations.runner import discover
    from expectations.store import Store
    from expectations.suites import load_suites

    settings = load_settings()
    zones = settings.layout
    store = Store(zones)
    hashes = {s.name: s.sha256 for s in load_suites(check_drift=False).values()}
    records = {st["file"]: st for st in store.all_status()}
    raw = discover(zones)
    counts = Counter(st["outcome"] for st in records.values())
    pending = sum(1 for f in raw if f.rel not in records)
    stale = sum(1 for st in records.values() if st["outcome"] != "released"
                and hashes.get(st.get("suite")) != st.get("suite_sha256"))
    summary = {"raw_files": len(raw), "pending": pending, "stale": stale, **{k: counts.get(k, 0) for k in
                                                                           ("validated", "quarantined", "released")}}
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print("  ".join(f"{k} {v}" for k, v in summary.items()))
    return 0


def _quarantine_list(args) -> int:
    from expectations.quarantine import list_quarantined

    items = list_quarantined(load_settings())
    if getattr(args, "json", False):
        print(json.dumps([vars(q) for q in items], indent=2, default=str))
        return 0
    if not items:
        print("no quarantined files")
        return 0
    for q in items:
        print(f"{q.file}  ({q.rows:,} rows, validated {q.validated_at})")
        for f in q.failed:
            count = f" {f['unexpected_count']:,} unexpected" if f.get("unexpected_count") else ""
            sample = f" e.g. {json.dumps(f['sample_unexpected'][:5], default=str)}" if f.get(
                "sample_unexpected") else ""
            observed = f" observed {json.dumps(f['observed_value'], default=str)[:120]}" if f.get(
                "observed_value") is not None and not sample else ""
            print(f"    - {f['check']}:{count}{sample}{observed}  [{f.get('guards') or ''}]")
    print(f"{len(items)} quarantined file(s); release one with "
          "`leap validate release FILE --reason …` (--fixed PATH or --override)")
    return 0


def _release(args) -> int:
    from expectations.quarantine import release

    res = release(load_settings(), args.file, reason=args.reason, by=args.by, fixed=args.fixed,
                  override=args.override)
    extra = f" (still failing: {', '.join(res.failed_checks)})" if res.failed_checks else ""
    print(f"released {res.file} [{res.mode}] -> {res.destination}{extra}")
    return 0


def _docs(args) -> int:
    from expectations.docs import build_docs

    index, n = build_docs(load_settings(), limit=args.limit)
    print(f"Data Docs with {n} validation result(s): {index}")
    return 0


def _suites(args) -> int:
    from expectations import suites

    if args.write:
        changed = suites.write()
        print("\n".join(f"wrote {p}" for p in changed) or "suites already up to date")
        return 0
    stale = suites.drift()
    if args.check:
        for name, what in sorted(stale.items()):
            print(f"{name}: {what}")
        print("suites are stale: run `leap validate suites --write`" if stale else "suites are up to date")
        return 1 if stale else 0
    for ins, s in sorted(suites.load_suites(check_drift=False).items()):
        print(f"{s.name}  instrument={ins}  expectations={len(s.doc['expectations'])}  sha256={s.short_hash}")
    if stale:
        print(f"stale: {stale} (run `leap validate suites --write`)")
    return 0
