"""`leap weights rake`: raking weights for a sample to population margins (a public, stable interface).

Examples::

    leap weights rake sample.csv --margins margins.csv --id-col respondent_id --out weights.csv
    leap weights rake sample.csv --margins leap/instrument_data/population_margins.csv \\
        --instrument teacher --id-col respondent_id --base-weight-col base_weight --trim-upper 4 \\
        --diagnostics rake.json --out w.csv

The margins file has columns ``variable, level, total`` (each variable a column of the sample); the output
has columns ``id, weight``. See :mod:`weights.raking` for the algorithm and docs/weights.md.
"""

from __future__ import annotations

import json
from pathlib import Path

from leap.errors import LeapError


def register(sub) -> None:
    p = sub.add_parser("weights", help="survey weights: raking to population margins",
                       description="Survey weights computed by the platform (equal to R survey's rake()).")
    p.set_defaults(uses_data_dir=False)  # files given on the command line
    wsub = p.add_subparsers(dest="weights_command", metavar="SUBCOMMAND", required=True)
    r = wsub.add_parser(
        "rake", help="rake a sample to population margins; writes id, weight",
        description="Iterative proportional fitting as R survey's rake(): post-stratify on each margin in "
                    "turn until no cell of the weighted cross-table of the raking variables moves by "
                    "tolerance x (sum of base weights). Optional trimming keeps every weight within "
                    "[trim-lower, trim-upper] x the mean weight while still meeting the margins.")
    r.add_argument("sample", metavar="SAMPLE.csv", help="one row per respondent; raking variables as columns")
    r.add_argument("--margins", required=True, metavar="MARGINS.csv",
                   help="population margins: columns variable, level, total (optionally instrument)")
    r.add_argument("--id-col", required=True, metavar="COL", help="respondent id column of the sample")
    r.add_argument("--base-weight-col", metavar="COL", help="positive base weights (default: all 1)")
    r.add_argument("--out", required=True, metavar="WEIGHTS.csv", help="output file: columns id, weight")
    r.add_argument("--instrument", metavar="NAME", help="use the margins rows of this instrument")
    r.add_argument("--tolerance", type=float, default=1e-10,
                   help="convergence: largest cell change relative to the sum of base weights "
                        "(default 1e-10)")
    r.add_argument("--max-iter", type=int, default=1000, help="most raking cycles (default 1000)")
    r.add_argument("--trim-lower", type=float, metavar="L",
                   help="lowest weight as a multiple of the mean weight (0..1)")
    r.add_argument("--trim-upper", type=float, metavar="U",
                   help="highest weight as a multiple of the mean weight (>1)")
    r.add_argument("--margin-tolerance", type=float, default=None, metavar="REL",
                   help="largest relative miss of a margin level accepted (default 1e-3); raking that "
                        "stops beyond it fails with exit 2 and names the level")
    r.add_argument("--diagnostics", metavar="FILE.json", help="write the full diagnostics as JSON")
    r.set_defaults(func=_rake)


def _rake(args) -> int:
    from weights import MARGIN_TOLERANCE, MarginsMissed, load_margins, rake

    sample = _read_sample(args.sample)
    _check_ids(sample, args.id_col)
    margins = load_margins(args.margins, instrument=args.instrument)
    tol = MARGIN_TOLERANCE if args.margin_tolerance is None else args.margin_tolerance
    try:
        result = rake(sample, margins, base_weights=args.base_weight_col, tolerance=args.tolerance,
                      max_iter=args.max_iter, trim_lower=args.trim_lower, trim_upper=args.trim_upper,
                      margin_tolerance=tol)
    except MarginsMissed as exc:  # keep the evidence: diagnostics written, no weights
        if args.diagnostics:
            _write_diagnostics(args.diagnostics, exc.result)
        raise
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    table = result.weights.to_frame("weight").assign(id=sample[args.id_col])
    table[["id", "weight"]].to_csv(out, index=False)
    if args.diagnostics:
        _write_diagnostics(args.diagnostics, result)
    print(result.diagnostics.summary())
    print(f"wrote {len(sample)} weights to {out}")
    return 0


def _write_diagnostics(path: str, result) -> None:
    Path(path).write_text(json.dumps(result.diagnostics.to_dict(), indent=2, default=_jsonable))


def _read_sample(path: str):
    import pandas as pd

    try:  # all columns as text: levels are compared as text, base weights are parsed by rake()
        sample = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    except FileNotFoundError as exc:
        raise LeapError(f"sample file not found: {path}") from exc
    except pd.errors.EmptyDataError as exc:
        raise LeapError(f"sample file is empty: {path}") from exc
    if sample.empty:
        raise LeapError(f"sample file has no rows: {path}")
    return sample


def _check_ids(sample, id_col: str) -> None:
    if id_col not in sample.columns:
        raise LeapError(f"id column {id_col} not in the sample",
                        hint="columns in the sample: " + ", ".join(map(str, sample.columns)))
    ids = sample[id_col]
    if ids.isna().any():
        raise LeapError(f"id column {id_col} is empty for {int(ids.isna().sum())} row(s)")
    dup = ids[ids.duplicated()]
    if not dup.empty:
        raise LeapError(f"id {dup.iloc[0]} appears more than once in {id_col}",
                        hint="the sample must have one row per respondent")


def _jsonable(value):
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")
