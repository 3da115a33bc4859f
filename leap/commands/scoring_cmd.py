"""`leap scoring calibrate|score|calibrations`: Rasch scoring jobs over the warehouse."""

from __future__ import annotations

import json
import sys

from leap.config import load_settings
from leap.errors import LeapError


def register(sub) -> None:
    p = sub.add_parser("scoring", help="calibrate the item bank, score a term, list calibrations (warehouse)")
    ssub = p.add_subparsers(dest="scoring_command", metavar="ACTION", required=True)
    c = ssub.add_parser("calibrate", help="calibrate every instrument x scale on a reference administration")
    _term_args(c)
    c.add_argument("--model", default="pcm", help="pcm (default) or rsm")
    c.set_defaults(func=_calibrate)
    s = ssub.add_parser("score", help="score every respondent of a term against a calibration")
    _term_args(s)
    s.add_argument("--calibration-id", help="calibration to score against (default: the latest one)")
    s.set_defaults(func=_score)
    ls = ssub.add_parser("calibrations", help="list the calibrations in the warehouse (newest first)")
    ls.set_defaults(func=_list)


def _term_args(p) -> None:
    p.add_argument("--school-year", required=True, help="e.g. 2024-25")
    p.add_argument("--term", required=True, help="fall, winter or spring")


def _check(args) -> None:
    year = args.school_year
    if not (len(year) == 7 and year[4] == "-" and year[:4].isdigit() and year[5:].isdigit()):
        raise LeapError(f"school year {year!r} is not like 2024-25", hint="pass --school-year 2024-25")
    from leap.orchestration.tasks import check_term

    check_term(args.term)


def _calibrate(args) -> int:
    from leap.orchestration.tasks import calibrate

    _check(args)
    result = calibrate(load_settings(), args.school_year, args.term, model=args.model)
    print(json.dumps(result, default=str))
    for f in result.get("failed", []):
        print(f"error: {f['instrument']} {f['component']} could not be calibrated: {f['reason']}", file=sys.stderr)
    if result.get("failed"):
        print("hint: the other scales are calibrated; choose a larger reference administration, or fix or drop "
              "the item named", file=sys.stderr)
        return 1
    return 0


def _score(args) -> int:
    from leap.orchestration.tasks import score

    _check(args)
    result = score(load_settings(), args.school_year, args.term, calibration_id=args.calibration_id)
    print(json.dumps(result, default=str))
    return 0


def _list(args) -> int:
    from scoring_jobs.item_bank import list_calibrations

    table = list_calibrations(load_settings())
    if table.empty:
        print("no calibrations yet (run `leap scoring calibrate --school-year Y --term T`)")
        return 0
    print(table.to_string(index=False))
    return 0
