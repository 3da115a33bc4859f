"""`leap status`: consumer lag per partition, files and rows landed, dead-letter counts."""

from __future__ import annotations

import json

from leap.config import load_settings
from leap.errors import EXIT_OK, EXIT_UNAVAILABLE


def register(sub) -> None:
    p = sub.add_parser("status", help="operator view: lag per partition, lake contents, dead-letter counts",
                       description="Exit code 0, or 3 when the broker does not answer (the lag is then unknown; "
                                   "the lake and dead-letter counts are shown all the same).")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_run)


def _run(args) -> int:
    from ingestion.status import collect_status, render

    settings = load_settings()
    report = collect_status(settings)
    if args.json:
        print(json.dumps({
            "broker_up": report.broker_up,
            "partitions": [{"partition": p.partition, "log_end": p.log_end, "committed": p.committed,
                            "lake_next_offset": p.lake_next, "lag": p.lag} for p in report.partitions],
            "total_lag": report.total_lag,
            "lake": [{"instrument": k[0], "school_year": k[1], "term": k[2], "files": v[0], "rows": v[1]}
                     for k, v in report.files_by_partition.items()],
            "dead_lettered": dict(report.dlq_by_reason),
            "dlq_topic_records": report.dlq_log_end,
            "duplicates_skipped": report.duplicates,
        }, indent=2))
    else:
        print(render(report, settings))
    # the lake and dead-letter counts are shown all the same; the exit code says the lag is unknown
    return EXIT_OK if report.broker_up else EXIT_UNAVAILABLE
