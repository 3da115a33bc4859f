"""Grain: one row per weighting group (instrument x school year x term x sample) that is not raked, and
one per raking cell (region x grade band x urbanicity x base weight) of a group that is. The weights of
the respondents are made from it by int_respondent_weights (SQL): aggregate first, expand last.

What each sample is weighted to is data (samples.csv: weighting), decided per sample:

- ``external`` (the national probability sample): the weights supplied with the data, as the national
  scan used NORC's. A group whose respondents lack them is raked (weights.rake, equal to R survey's
  rake()) to the instrument's population margins from base weights 1.
- ``unweighted`` (NextGen, the LEAP network: non-probability cohorts of a few schools): every respondent
  counts once. Raking such a cohort to national margins manufactures a representativeness it does not
  have and, with 9-10 schools, cannot meet the margins (34.8% off on the simulator's NextGen teachers:
  tests/weights/test_weights_cli.py); its estimates describe the cohort's own respondents.

Why cells. Raking multiplies a respondent's base weight by one factor per raking variable, chosen by the
respondent's level of it: respondents alike in every raking variable and in base weight end with the same
weight, and n of them with base weight b weigh in every margin exactly as one row of base weight n*b.
So the raking runs on the cells (a few hundred rows per group, built by DuckDB) and a respondent's weight
is the cell's raked weight / n — the same weights as raking every respondent, to rounding, in memory
set by the cells (at ten million submissions the respondents held 7.6 GB as one DataFrame; streamed group
by group, the warehouse step still peaked at 4.7 GB; on cells the model takes under a second).

Raking is checked: a margin missed by more than weights.MARGIN_TOLERANCE (relative) is a failure,
handled by the documented fallback, in order: drop margin levels with no respondents (their variable's
totals rescaled to the population), then drop raking variables from the last one, then the base weights
(``weight_method = 'base_weights_fallback'``). What was done and the largest relative margin error per
variable ride along on every row and are published by fct_weighting_diagnostics.
"""

import pandas as pd

RAKING_VARIABLES = ["region", "grade_band", "urbanicity"]
GROUP = ["instrument", "school_year", "term", "sample"]
CELL = RAKING_VARIABLES + ["base_weight"]
COLUMNS = GROUP + CELL + ["respondent_weight", "weight_method", "raking_variables", "raking_iterations",
                          "meets_margins", "weighting_note"] + [f"margin_error_{v}" for v in RAKING_VARIABLES]


def method_of(weighting: str, n: int, n_external: int) -> str:
    """How a group is weighted: its sample's decision, raking when supplied weights are missing."""
    if weighting == "unweighted":
        return "unweighted"
    if weighting == "external" and n_external == n:
        return "external"
    return "rake"


def _usable_margins(margins: pd.DataFrame, cells: pd.DataFrame) -> pd.DataFrame:
    parts = []
    population = margins.groupby("variable")["total"].sum().max()
    for variable, m in margins.groupby("variable", sort=False):
        present = set(cells[variable].dropna().astype(str))
        kept = m[m["level"].isin(present)].copy()
        kept["total"] = kept["total"] * population / kept["total"].sum()
        parts.append(kept)
    return pd.concat(parts, ignore_index=True)


def rake_cells(cells: pd.DataFrame, margins: pd.DataFrame) -> dict:
    """Rake a group's cells (CELL columns and n) on all variables, then fewer; the base weights when no
    set meets its margins. ``w``: each cell's weight per respondent."""
    from leap.errors import LeapError
    from weights import MarginsMissed, rake

    base = cells["base_weight"].to_numpy(float)
    sample = cells[RAKING_VARIABLES].astype(str).assign(base=base * cells["n"].to_numpy(float))
    usable = _usable_margins(margins, cells)
    notes = []
    for k in range(len(RAKING_VARIABLES), 0, -1):
        variables = RAKING_VARIABLES[:k]
        try:
            result = rake(sample, usable[usable["variable"].isin(variables)], base_weights="base",
                          tolerance=1e-6, max_iter=2000)
        except MarginsMissed as exc:
            notes.append(f"{','.join(variables)}: {exc.message}")
            continue
        except LeapError as exc:
            if "did not converge" not in exc.message:
                raise
            notes.append(f"{','.join(variables)}: did not converge")
            continue
        d = result.diagnostics
        return {"w": result.weights.to_numpy() / cells["n"].to_numpy(float), "method": "raked",
                "variables": ",".join(variables), "iterations": d.iterations, "meets": True,
                "errors": d.variable_errors, "note": "; ".join(notes) or None}
    return {"w": base, "method": "base_weights_fallback", "variables": None, "iterations": 0,
            "meets": False, "errors": {}, "note": "; ".join(notes)}


def _rows(key: tuple, cells: pd.DataFrame | None, how: dict) -> pd.DataFrame:
    out = pd.DataFrame([key], columns=GROUP) if cells is None else cells[CELL].assign(
        **dict(zip(GROUP, key, strict=True)))
    out["respondent_weight"] = None if cells is None else how["w"]
    out["weight_method"] = how["method"]
    out["raking_variables"] = how["variables"]
    out["raking_iterations"] = how["iterations"]
    out["meets_margins"] = pd.array([how["meets"]] * len(out), dtype="boolean")
    out["weighting_note"] = how["note"]
    for v in RAKING_VARIABLES:
        out[f"margin_error_{v}"] = float("nan") if how["errors"].get(v) is None else how["errors"][v]
    return out.reindex(columns=COLUMNS)


NOT_RAKED = {
    "unweighted": {"method": "unweighted", "variables": None, "iterations": 0, "meets": None, "errors": {},
                   "note": "non-probability cohort: each respondent counts once"},
    "external": {"method": "external", "variables": None, "iterations": 0, "meets": None, "errors": {},
                 "note": None},
}


def _literal(value) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def group_cells(respondents, key: tuple) -> pd.DataFrame:
    """A group's raking cells, counted by DuckDB, in a fixed order (the raking sums run in frame order)."""
    where = " and ".join(f"{c} = {_literal(v)}" for c, v in zip(GROUP, key, strict=True))
    cells = respondents.filter(where).select(
        ", ".join(RAKING_VARIABLES) + ", coalesce(external_weight, 1.0) as base_weight")
    return cells.aggregate(", ".join(CELL) + ", count(*) as n", ", ".join(CELL)).order(
        ", ".join(CELL)).df()


def weighting_cells(respondents, margins_all: pd.DataFrame, weighting: dict) -> pd.DataFrame:
    keys = ", ".join(GROUP)
    groups = respondents.aggregate(f"{keys}, count(*) as n, count(external_weight) as n_external",
                                   keys).order(keys).df()
    parts = []
    for g in groups.itertuples(index=False):
        key = tuple(getattr(g, c) for c in GROUP)
        method = method_of(weighting.get(g.sample, "external"), g.n, g.n_external)
        if method != "rake":
            parts.append(_rows(key, None, NOT_RAKED[method]))
            continue
        cells = group_cells(respondents, key)
        margins = margins_all[margins_all["instrument"] == g.instrument][["variable", "level", "total"]]
        parts.append(_rows(key, cells, rake_cells(cells, margins)))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=COLUMNS)


def model(dbt, session):
    dbt.config(materialized="table")
    margins_all = dbt.ref("population_margins").df()
    margins_all = margins_all[margins_all["variable"].isin(RAKING_VARIABLES)]
    samples_df = dbt.ref("samples").df()
    weighting = dict(zip(samples_df["sample"], samples_df["weighting"], strict=True))
    out = weighting_cells(dbt.ref("int_respondents"), margins_all, weighting)
    # typed: a column with no value in any row (no group raked) must not arrive as DuckDB's NULL type
    return out.astype({"region": "string", "grade_band": "string", "urbanicity": "string",
                       "base_weight": "float64", "respondent_weight": "float64", "raking_variables": "string",
                       "weighting_note": "string", "raking_iterations": "int64"})
