"""`leap ingest`: the Kafka → raw Parquet consumer, bounded (drain and exit) or as a service."""

from __future__ import annotations

import argparse
import json
import os

from leap.config import load_settings
from leap.errors import LeapError


def register(sub) -> None:
    p = sub.add_parser("ingest", help="consume submissions into the raw Parquet lake (exactly once)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--bounded", dest="mode", action="store_const", const="bounded",
                      help="drain until caught up with the log end, then exit (default)")
    mode.add_argument("--service", dest="mode", action="store_const", const="service",
                      help="run until SIGTERM/SIGINT, then flush, commit and exit")
    p.add_argument("--workers", type=int, default=int(os.environ.get("LEAP_INGEST_WORKERS", "1")),
                   help="decode processes beside the fetching one (0: decode in-process; default 1)")
    p.add_argument("--standalone", action="store_true",
                   help="own every partition without joining the consumer group (single-instance deployments)")
    p.add_argument("--processes", type=int, default=1,
                   help="bounded drains: split the partitions over N standalone processes (default 1)")
    p.add_argument("--partitions", help="standalone on these partitions only, e.g. 0,2,4")
    p.add_argument("--json-stats", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=_run, mode="bounded")


def _run(args) -> int:
    from ingestion.consumer import run_ingestion, run_parallel_drain

    settings = load_settings()
    if args.processes > 1:
        if args.mode != "bounded":
            raise LeapError("--processes is for bounded drains",
                            hint="run several `leap ingest --service` instances in the consumer group instead")
        stats = run_parallel_drain(settings, args.processes, progress=not args.quiet)
    else:
        parts = [int(p) for p in args.partitions.split(",")] if args.partitions else None
        stats = run_ingestion(settings, args.mode, workers=args.workers, progress=not args.quiet,
                              standalone=args.standalone, partitions=parts)
    if args.json_stats:
        print(json.dumps({k: getattr(stats, k) for k in
                          ("consumed", "landed", "rejected", "duplicates", "files", "flushes",
                           "first_record_at", "finished_at")}))
        return 0
    print(f"landed {stats.landed} submissions in {stats.files} files; dead-lettered {stats.rejected}; "
          f"duplicates skipped {stats.duplicates}; lake: {settings.layout.raw}")
    return 0
