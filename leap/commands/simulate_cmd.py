"""`leap simulate` (seeded survey submissions to a JSONL file or Kafka) and `leap produce` (partner bulk file).

Examples::

    leap simulate --seed 7 --out data/sim.jsonl --truth data/sim-truth.json --enrolment data/enrolment.csv
    leap simulate --submissions 200000 --malformed-share 0.01 --to-kafka
    leap produce partner_export.csv            # CSV format: see ingestion.partner_files
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from leap.errors import LeapError

SIZE_HELP = ("total number of schools, split 50%% national / 25%% nextgen / 25%% leap_network "
             "(default 40: 20 / 10 / 10)")


def register(sub) -> None:
    p = sub.add_parser(
        "simulate", help="simulate a school year of survey submissions (to a JSONL file or Kafka)",
        description="Seeded, realistic simulator: schools, teachers and students answering in fall and spring, "
                    "responses from a partial credit Rasch model with known parameters, skipped items, "
                    "resubmissions, double answers and malformed events. Same arguments, same bytes.")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--school-year", default="2024-25", help="school year YYYY-YY (default 2024-25)")
    p.add_argument("--terms", default="fall,spring", help="comma-separated terms (default fall,spring)")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--schools", type=int, help=SIZE_HELP)
    size.add_argument("--submissions", type=int, metavar="N",
                      help="approximate number of records to produce; the number of schools is scaled to reach it")
    p.add_argument("--teachers-per-school", type=int, default=12, help="mean teachers per school (default 12)")
    p.add_argument("--students-per-school", type=int, default=60, help="mean students per school (default 60)")
    p.add_argument("--malformed-share", type=float, default=0.0,
                   help="share of malformed records, every dead-letter reason in turn (default 0; demo: 0.01)")
    p.add_argument("--resubmission-share", type=float, default=0.01, help="same submission sent again (0.01)")
    p.add_argument("--double-answer-share", type=float, default=0.02,
                   help="respondents answering twice in a term (0.02)")
    p.add_argument("--skip-share", type=float, default=0.04, help="skipped items (0.04)")
    dest = p.add_mutually_exclusive_group(required=True)
    dest.add_argument("--out", metavar="FILE.jsonl", help="write one submission per line to this file")
    dest.add_argument("--to-kafka", action="store_true", help="produce to the submissions topic (key = school id)")
    p.add_argument("--topic", help="topic for --to-kafka (default: the submissions topic)")
    p.add_argument("--truth", metavar="PATH",
                   help="also write the true parameters: *.json, or a directory of Parquet files")
    p.add_argument("--enrolment", metavar="PATH.csv",
                   help="also write the schools' enrolment (expected respondents per school, term and instrument)")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=_simulate)

    q = sub.add_parser("produce", help="produce a partner bulk file (JSONL or CSV) into Kafka",
                       description="Send each submission of a partner bulk file to the submissions topic "
                                   "(key = school id). CSV rows are converted to v1 events. Every record is "
                                   "checked first: a file with invalid records (or a CSV header that does not "
                                   "match the format) is refused and nothing is sent, unless --allow-invalid "
                                   "(the invalid ones are sent on to be dead-lettered) or --skip-invalid (they "
                                   "are dropped); the exit code is then 1.")
    q.add_argument("file", help="JSONL (one submission per line) or CSV (one row per submission)")
    q.add_argument("--format", choices=("jsonl", "csv"), help="default: from the file extension")
    q.add_argument("--topic", help="default: the submissions topic")
    q.add_argument("--allow-invalid", action="store_true",
                   help="send the file although some records fail the check (they are dead-lettered); exit 1")
    q.add_argument("--skip-invalid", action="store_true",
                   help="send the valid records only, drop those that fail the check; exit 1 if any did")
    q.add_argument("--quiet", action="store_true", help="no progress lines")
    q.set_defaults(func=_produce)


def _config(args):
    from simulator import SimConfig

    terms = tuple(t.strip() for t in args.terms.split(",") if t.strip())
    config = SimConfig(seed=args.seed, school_year=args.school_year, terms=terms,
                       teachers_per_school=args.teachers_per_school, students_per_school=args.students_per_school,
                       malformed_share=args.malformed_share, resubmission_share=args.resubmission_share,
                       double_answer_share=args.double_answer_share, skip_share=args.skip_share)
    if args.submissions is not None:
        if args.submissions <= 0:
            raise LeapError("--submissions must be positive")
        config = config.scaled_to(args.submissions)
    elif args.schools is not None:
        if args.schools <= 0:
            raise LeapError("--schools must be positive")
        config = config.with_total_schools(args.schools)
    config.validate()
    return config


def _probe_writable(path: Path, what: str) -> None:
    """Fail before the (possibly long) simulation when an output cannot be written."""
    directory = path if what == "truth" and path.suffix != ".json" else path.parent
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LeapError(f"cannot create the directory for the {what} output {path}: {exc.strerror or exc}",
                        hint="choose a writable path") from None
    if directory != path and path.is_dir():
        raise LeapError(f"{what} output {path} is a directory", hint="give a file name such as sim.jsonl")
    if not os.access(directory, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise LeapError(f"cannot write the {what} output {path}: permission denied", hint="choose a writable path")


def _simulate(args) -> int:
    from simulator import simulate, write_jsonl

    config = _config(args)
    out = Path(args.out) if args.out else None
    if out is not None:
        _probe_writable(out, "records")
    if args.truth:
        _probe_writable(Path(args.truth), "truth")
    if args.enrolment:
        _probe_writable(Path(args.enrolment), "enrolment")
    settings = _kafka_ready(args.topic) if args.to_kafka else None
    started = time.perf_counter()
    result = simulate(config)
    print(result.summary())
    print(f"simulated in {time.perf_counter() - started:.1f}s (seed {config.seed}, {config.school_year}, "
          f"{'/'.join(config.terms)})")
    if out is not None:
        n = write_jsonl(result.records, out)
        print(f"wrote {n} records to {out}")
    else:
        from ingestion.producer import produce

        n = produce(result.records, settings, topic=args.topic, progress=not args.quiet)
        print(f"produced {n} records to {args.topic or settings.topic} at {settings.bootstrap_servers}")
    if args.truth:
        print(f"truth written to {result.truth.write(args.truth)}")
    if args.enrolment:
        from simulator import write_enrolment

        n = write_enrolment(result.enrolment(), args.enrolment)
        print(f"wrote {n} enrolment rows to {args.enrolment}")
    return 0


def _kafka_ready(topic: str | None):
    """Settings for producing, after checking the broker answers (and creating the default topics)."""
    from ingestion.broker import ensure_topics, require_broker
    from leap.config import load_settings

    settings = load_settings()
    require_broker(settings)
    if topic is None:
        ensure_topics(settings)
    return settings


def _produce(args) -> int:
    from ingestion.producer import checked_records, produce

    path = Path(args.file)
    if not path.is_file():
        raise LeapError(f"no such file: {path}", hint="give the path of a JSONL or CSV partner file")
    records, counts = checked_records(path, args.format, skip_invalid=args.skip_invalid,
                                      allow_invalid=args.allow_invalid)  # the file first, then the broker
    settings = _kafka_ready(args.topic)
    sent = produce(records, settings, topic=args.topic, progress=not args.quiet)
    invalid = sum(counts["invalid"].values())
    print(f"produced {sent} records from {path} to {args.topic or settings.topic} "
          f"({counts['valid']} valid, {invalid} invalid)")
    for reason, n in sorted(counts["invalid"].items()):
        print(f"  {reason}: {n}" + (" (skipped)" if args.skip_invalid else " (sent; will be dead-lettered)"),
              file=sys.stderr)
    return 1 if invalid else 0
