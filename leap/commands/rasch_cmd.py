"""``leap rasch calibrate``, ``leap rasch score`` and ``leap rasch dif``: the file front end of the Rasch engine.

The engine (:mod:`scoring_jobs.rasch`) is a library that imports nothing from the platform; this
command maps its errors to the CLI's. File formats are documented in docs/rasch.md.
"""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path

from leap.errors import LeapError
from scoring_jobs.rasch import MODELS

log = logging.getLogger(__name__)

_HINT = "see docs/rasch.md for the input format: one row per person, integer categories from 0, empty = missing"


def register(subparsers) -> None:
    """Add ``rasch`` with ``calibrate``, ``score`` and ``dif`` sub-subcommands."""
    p = subparsers.add_parser("rasch", help="Rasch measurement: CML calibration (PCM/RSM), WLE scoring, DIF")
    sub = p.add_subparsers(dest="rasch_command", metavar="ACTION")
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1], uses_data_dir=False)  # files given on the command line

    c = sub.add_parser("calibrate", help="calibrate items by CML and score persons (WLE)")
    c.add_argument("input", help="wide CSV or Parquet file, one row per person")
    c.add_argument("--model", choices=MODELS, default="pcm")
    c.add_argument("--id-col", required=True, help="person id column")
    c.add_argument("--items", help="comma-separated item columns (default: all but id and weight)")
    c.add_argument("--weight-col", help="case weight column (optional)")
    c.add_argument("--max-category", type=int, help="highest category of every item (default: highest observed)")
    c.add_argument("--out", required=True, help="output directory")
    c.add_argument("--cut-scores", help="level cut scores for the quality report: a JSON file {level: logit cut} "
                                        "or a calibration folder with cut_scores.json and scale.json")
    c.add_argument("--simulations", type=int, default=50,
                   help="data sets simulated for the dimensionality critical values (default 50; 0 = none)")
    c.set_defaults(func=_calibrate)

    s = sub.add_parser("score", help="score persons against given item parameters (anchored WLE)")
    s.add_argument("input", help="wide CSV or Parquet file, one row per person")
    s.add_argument("--item-params", required=True, help="items.csv from `leap rasch calibrate`")
    s.add_argument("--id-col", required=True, help="person id column")
    s.add_argument("--items", help="comma-separated item columns (default: the items in --item-params)")
    s.add_argument("--method", choices=("wle", "mle"), default="wle")
    s.add_argument("--out", required=True, help="output persons CSV file")
    s.add_argument("--item-report", help="optional CSV with each item's fit and displacement")
    s.set_defaults(func=_score)

    d = sub.add_parser("dif", help="differential item functioning between groups (Andersen LR, Wald, Mantel)")
    d.add_argument("input", help="wide CSV or Parquet file, one row per person")
    d.add_argument("--group-col", required=True, help="column with each person's group (empty = left out)")
    d.add_argument("--id-col", required=True, help="person id column")
    d.add_argument("--items", help="comma-separated item columns (default: all but id and group)")
    d.add_argument("--model", choices=MODELS, default="pcm")
    d.add_argument("--min-group-n", type=int, default=100, help="fewest persons for a group to be tested (default 100)")
    d.add_argument("--min-category-n", type=int, default=5,
                   help="fewest non-extreme responses in each used category of an item, per group (default 5)")
    d.add_argument("--reference-group", help="the reference group (default: the largest)")
    d.add_argument("--anchor", default="purify",
                   help="purify (default), all, or comma-separated anchor items (docs/rasch.md#dif)")
    d.add_argument("--out", required=True, help="output directory")
    d.set_defaults(func=_dif)


def _items(arg: str | None) -> list[str] | None:
    if arg is None:
        return None
    items = [x.strip() for x in arg.split(",") if x.strip()]
    if not items:
        raise LeapError("--items is empty", hint="give comma-separated column names, e.g. --items i01,i02")
    return items


def _load(path, id_col, items, weight_col=None):
    from scoring_jobs.rasch.anchored import RaschDataError
    from scoring_jobs.rasch.io import read_table, select_columns

    try:
        return select_columns(read_table(path), id_col, items, weight_col)
    except RaschDataError as exc:
        raise LeapError(str(exc), hint=_HINT) from exc


def _calibrate(args) -> int:
    import numpy as np

    from scoring_jobs.rasch.anchored import RaschDataError
    from scoring_jobs.rasch.api import calibrate
    from scoring_jobs.rasch.report import read_cuts, write_quality

    try:
        cuts = None if args.cut_scores is None else read_cuts(args.cut_scores)
    except ValueError as exc:
        raise LeapError(str(exc), hint="--cut-scores takes a JSON file {level: logit cut} or a calibration folder "
                                       "holding cut_scores.json and scale.json (docs/rasch.md)") from exc
    ids, resp, names, weights = _load(args.input, args.id_col, _items(args.items), args.weight_col)
    n_steps = None if args.max_category is None else np.full(len(names), args.max_category)
    if n_steps is not None and int(resp.max()) > args.max_category:
        col = int(np.flatnonzero(resp.max(axis=0) > args.max_category)[0])
        raise LeapError(f"item {names[col]} has categories above --max-category {args.max_category}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            cal = calibrate(resp, model=args.model, weights=weights, item_names=names, n_steps=n_steps)
        except RaschDataError as exc:
            raise LeapError(str(exc), hint="drop or recode the item, or check the data") from exc
    out = cal.to_dir(args.out, ids=ids)
    write_quality(out, cal, resp, cuts=cuts, n_sim=max(args.simulations, 0), title=Path(args.input).name)
    for note in cal.warnings:
        log.warning(note)
    s = cal.summary()
    print(json.dumps({k: s[k] for k in ("model", "n_persons", "n_items", "conditional_loglik", "converged",
                                        "person_separation_reliability")}))
    log.info("wrote %s", out)
    return 0 if cal.converged else 1


def _score(args) -> int:
    from scoring_jobs.rasch.anchored import RaschDataError, score_responses
    from scoring_jobs.rasch.io import read_item_params, write_csv

    try:
        names, thr, n_steps = read_item_params(args.item_params)
    except RaschDataError as exc:
        raise LeapError(str(exc), hint="pass the items.csv written by `leap rasch calibrate`") from exc
    items = _items(args.items) or names
    if len(items) != len(names):
        raise LeapError(f"--items lists {len(items)} columns but the item parameters have {len(names)} items",
                        hint="list the data columns in the order of the items in --item-params")
    ids, resp, _, _ = _load(args.input, args.id_col, items)
    try:
        persons, table = score_responses(resp, thr, n_steps, method=args.method)
    except RaschDataError as exc:
        where = "" if exc.row is None else f", row {exc.row + 1}"
        raise LeapError(f"item {items[exc.item]}{where}: {exc}", hint=_HINT) from exc
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    write_csv(persons.to_frame(ids), args.out)
    if args.item_report:
        table = table.drop(columns="information")  # the --item-report format is kept as documented
        table.insert(0, "item", names)
        write_csv(table, args.item_report)
    log.info("scored %d persons into %s", len(ids), args.out)
    return 0


def _dif_input(args):
    """Read the file: (responses, item names, group labels), the group column never an item."""
    from scoring_jobs.rasch.anchored import RaschDataError
    from scoring_jobs.rasch.io import read_table, select_columns

    try:
        df = read_table(args.input)
        df.columns = [str(c) for c in df.columns]
        if args.group_col not in df.columns:
            raise RaschDataError(f"group column {args.group_col!r} is not in the file")
        items = _items(args.items) or [c for c in df.columns if c not in (args.id_col, args.group_col)]
        if args.group_col in items:
            raise RaschDataError(f"group column {args.group_col!r} is also listed in --items")
        _, resp, names, _ = select_columns(df, args.id_col, items, None)
    except RaschDataError as exc:
        raise LeapError(str(exc), hint=_HINT + "; plus a group column (--group-col)") from exc
    return resp, names, df[args.group_col]


def _dif(args) -> int:
    from scoring_jobs.rasch.dif import dif_analysis

    resp, names, groups = _dif_input(args)
    anchor = args.anchor if args.anchor in ("purify", "all") else _items(args.anchor)
    try:
        res = dif_analysis(resp, groups, model=args.model, item_names=names, reference_group=args.reference_group,
                           min_group_n=args.min_group_n, min_category_n=args.min_category_n, anchor=anchor)
    except ValueError as exc:
        raise LeapError(str(exc), hint="see docs/rasch.md#dif for the options and what each group and item "
                                       "needs to be tested") from exc
    out = res.to_dir(args.out)
    for note in res.notes:
        log.warning(note)
    s = res.summary()
    print(json.dumps({"model": s["model"], "reference_group": s["reference_group"], "lr_p_value": s["lr"]["p_value"],
                      "n_rows_testable": s["n_rows_testable"], "n_flagged": len(s["flagged"]),
                      "converged": s["converged"]}))
    log.info("wrote %s", out)
    return 0 if s["converged"] else 1
