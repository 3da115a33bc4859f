"""`leap dlq list|show|replay`: read the dead-letter topic, and send fixed records back.

The topic holds the original bytes, raw respondent ids included: `show` masks them unless
``--reveal`` (operators of the ingestion only; see docs/operations.md#dead-letters).
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from datetime import UTC, datetime

from leap.config import load_settings
from leap.errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE, LeapError


def register(sub) -> None:
    p = sub.add_parser("dlq", help="the dead-letter topic: reasons, records (masked), replay after a fix",
                       description="Read the dead-letter topic from the start (no consumer group: reading "
                                   "moves no offsets) and replay selected records to the submissions topic "
                                   "once what rejected them is fixed.")
    dsub = p.add_subparsers(dest="dlq_command", metavar="ACTION", required=True)
    ls = dsub.add_parser("list", help="dead letters per reason: count, first and last seen")
    ls.add_argument("--json", action="store_true", help="machine-readable output")
    ls.set_defaults(func=_list)
    for name, helptext in (("show", "the selected records: reason, detail, source offset, original bytes"),
                           ("replay", "send the selected records that now pass the check to the submissions "
                                      "topic (idempotent by submission id); exit 1 if any still fail")):
        q = dsub.add_parser(name, help=helptext)
        q.add_argument("--reason", action="append", help="only this reason (repeatable)")
        q.add_argument("--at", action="append", metavar="PARTITION:OFFSET",
                       help="only the record at this dead-letter partition and offset (repeatable)")
        q.add_argument("--limit", type=int, help="at most N records")
        q.set_defaults(func=_show if name == "show" else _replay)
    show = dsub.choices["show"]
    show.add_argument("--reveal", action="store_true",
                      help="show raw respondent ids (masked by default; the topic holds them as sent)")
    out = show.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="one JSON object per line")
    out.add_argument("--values", action="store_true",
                     help="the original bytes only, one record per line: a JSONL file to fix and `leap produce`")


def _selected(args):
    from ingestion.dlq import read_dead_letters

    at = set()
    for item in args.at or []:
        part, _, offset = item.partition(":")
        if not (part.isdigit() and offset.isdigit()):
            raise LeapError(f"--at {item!r} is not PARTITION:OFFSET", hint="e.g. --at 0:42 (from `leap dlq show`)",
                            exit_code=EXIT_USAGE)
        at.add((int(part), int(offset)))
    n = 0
    for dl in read_dead_letters(load_settings()):
        if (args.reason and dl.reason not in args.reason) or (at and (dl.partition, dl.offset) not in at):
            continue
        if args.limit is not None and n >= args.limit:
            return
        n += 1
        yield dl


def _time(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _list(args) -> int:
    from ingestion.dlq import read_dead_letters

    by_reason: dict[str, list[int]] = defaultdict(list)
    for dl in read_dead_letters(load_settings()):
        by_reason[dl.reason].append(dl.timestamp_ms)
    rows = [{"reason": r, "records": len(ts), "first": _time(min(ts)), "last": _time(max(ts))}
            for r, ts in sorted(by_reason.items())]
    if args.json:
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    print(f"{'reason':<24}{'records':>9}  first seen (UTC)     last seen (UTC)")
    for r in rows:
        print(f"{r['reason']:<24}{r['records']:>9,}  {r['first']}  {r['last']}")
    print(f"{'total':<24}{sum(r['records'] for r in rows):>9,}")
    return EXIT_OK


def _show(args) -> int:
    for dl in _selected(args):
        shown = dl if args.reveal else dl.masked()
        if args.values:
            sys.stdout.buffer.write(shown.value + b"\n")
            continue
        if args.json:
            print(json.dumps(shown.to_dict()))
            continue
        print(f"-- dead letter {dl.partition}:{dl.offset}  {_time(dl.timestamp_ms)} UTC  reason {dl.reason}")
        print(f"   source {dl.source_topic} partition {dl.source_partition} offset {dl.source_offset}")
        print(f"   detail {shown.detail}")
        print(f"   bytes  {shown.value.decode('utf-8', 'replace')}")
    return EXIT_OK


def _replay(args) -> int:
    from ingestion.dlq import replay

    out = replay(load_settings(), _selected(args))
    print(f"replayed {out['replayed']} records to the submissions topic; {out['already_replayed']} replayed before "
          f"(skipped); {sum(out['still_invalid'].values())} still fail the check")
    for reason, n in sorted(out["still_invalid"].items()):
        print(f"  still {reason}: {n} (fix the cause, or the records: `leap dlq show --values "
              f"--reveal --reason {reason} > fix.jsonl`, edit, `leap produce fix.jsonl`)", file=sys.stderr)
    return EXIT_FAILED if out["still_invalid"] else EXIT_OK
