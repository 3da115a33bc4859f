"""Grain: one row per respondent x instrument x school year x term, with the analysis weight.

What each sample is weighted to is data (samples.csv: weighting), decided per sample:

- ``external`` (the national probability sample): the weights supplied with the data, as the national
  scan used NORC's. A group whose respondents lack them is raked (weights.rake, equal to R survey's
  rake()) to the instrument's population margins from base weights 1.
- ``unweighted`` (NextGen, the LEAP network: non-probability cohorts of a few schools): every respondent
  counts once. Raking such a cohort to national margins manufactures a representativeness it does not
  have and, with 9-10 schools, cannot meet the margins (34.8% off on the simulator's NextGen teachers:
  tests/weights/test_weights_cli.py); its estimates describe the cohort's own respondents.

Raking is checked: a margin missed by more than weights.MARGIN_TOLERANCE (relative) is a failure,
handled by the documented fallback, in order: drop margin levels with no respondents (their variable's
totals rescaled to the population), then drop raking variables from the last one, then the base weights
(``weight_method = 'base_weights_fallback'``). What was done and the largest relative margin error per
variable ride along on every row (same values within a group) and are published by
fct_weighting_diagnostics, where a miss is visible to the operator.
"""

import pandas as pd

RAKING_VARIABLES = ["region", "grade_band", "urbanicity"]
GROUP = ["instrument", "school_year", "term", "sample"]
COLUMNS = GROUP + ["respondent_key", "weight_method", "raking_variables", "raking_iterations", "analysis_weight",
                   "group_design_effect", "group_effective_n", "meets_margins", "weighting_note"] + [
                   f"margin_error_{v}" for v in RAKING_VARIABLES]


def _usable_margins(margins: pd.DataFrame, group: pd.DataFrame) -> pd.DataFrame:
    parts = []
    population = margins.groupby("variable")["total"].sum().max()
    for variable, m in margins.groupby("variable", sort=False):
        present = set(group[variable].dropna().astype(str))
        kept = m[m["level"].isin(present)].copy()
        kept["total"] = kept["total"] * population / kept["total"].sum()
        parts.append(kept)
    return pd.concat(parts, ignore_index=True)


def _rake_with_fallback(group: pd.DataFrame, margins: pd.DataFrame, base: pd.Series) -> dict:
    """Rake on all variables, then fewer; the base weights when no set meets its margins."""
    from leap.errors import LeapError
    from weights import MarginsMissed, rake

    sample = group[RAKING_VARIABLES].astype(str).assign(base=base.to_numpy())
    usable = _usable_margins(margins, group)
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
        return {"w": result.weights.to_numpy(), "method": "raked", "variables": ",".join(variables),
                "iterations": d.iterations, "meets": True, "errors": d.variable_errors,
                "note": "; ".join(notes) or None}
    return {"w": base.to_numpy(), "method": "base_weights_fallback", "variables": None, "iterations": 0,
            "meets": False, "errors": {}, "note": "; ".join(notes)}


def _weigh_group(group: pd.DataFrame, margins: pd.DataFrame, weighting: str) -> pd.DataFrame:
    from weights import kish_design_effect, kish_effective_n

    external = group["external_weight"]
    if weighting == "unweighted":
        how = {"w": [1.0] * len(group), "method": "unweighted", "variables": None, "iterations": 0,
               "meets": None, "errors": {}, "note": "non-probability cohort: each respondent counts once"}
    elif weighting == "external" and external.notna().all():
        how = {"w": external.astype(float).to_numpy(), "method": "external", "variables": None, "iterations": 0,
               "meets": None, "errors": {}, "note": None}
    else:  # a probability sample without its weights: raked to the population margins
        how = _rake_with_fallback(group, margins, external.fillna(1.0).astype(float))
    out = group[GROUP + ["respondent_key"]].copy()
    out["weight_method"] = how["method"]
    out["raking_variables"] = how["variables"]
    out["raking_iterations"] = how["iterations"]
    out["analysis_weight"] = how["w"]
    out["group_design_effect"] = kish_design_effect(how["w"])
    out["group_effective_n"] = kish_effective_n(how["w"])
    out["meets_margins"] = pd.array([how["meets"]] * len(out), dtype="boolean")
    out["weighting_note"] = how["note"]
    for v in RAKING_VARIABLES:
        out[f"margin_error_{v}"] = float("nan") if how["errors"].get(v) is None else how["errors"][v]
    return out


def _groups(relation, batch_rows: int = 500_000):
    """(key, rows) of each weighting group in key order, streamed: the columns raking reads, in Arrow
    batches, so memory holds one group and one batch, not every respondent (ten million submissions
    held 7.6 GB as one DataFrame). Rows in a fixed order within a group: the raking sums run over rows
    in frame order, and DuckDB returns rows in whatever order its threads finish; unordered, two builds
    of the same data differed in the last bits."""
    wanted = GROUP + ["respondent_key", "external_weight"] + RAKING_VARIABLES
    reader = relation.select(", ".join(wanted)).order(", ".join(GROUP + ["respondent_key"])).to_arrow_reader(
        batch_rows)
    pending = pd.DataFrame()
    for batch in reader:
        pending = pd.concat([pending, batch.to_pandas()], ignore_index=True)
        # the rows come in key order: every group but the last is complete, the last may go on
        in_last = (pending[GROUP] == pending[GROUP].iloc[-1]).all(axis=1).to_numpy()
        start = int(in_last.argmax())
        yield from pending.iloc[:start].groupby(GROUP, sort=False)
        pending = pending.iloc[start:].reset_index(drop=True)
    if len(pending):
        yield from pending.groupby(GROUP, sort=False)


def model(dbt, session):
    import pyarrow as pa

    dbt.config(materialized="table")
    margins_all = dbt.ref("population_margins").df()
    samples_df = dbt.ref("samples").df()
    weighting = dict(zip(samples_df["sample"], samples_df["weighting"], strict=True))
    margins_all = margins_all[margins_all["variable"].isin(RAKING_VARIABLES)]
    tables = []
    for key, group in _groups(dbt.ref("int_respondents")):
        margins = margins_all[margins_all["instrument"] == key[0]][["variable", "level", "total"]]
        out = _weigh_group(group.reset_index(drop=True), margins, weighting.get(key[3], "external"))[COLUMNS]
        tables.append(pa.Table.from_pandas(out, preserve_index=False))  # Arrow: compact strings
    if not tables:
        return pd.DataFrame(columns=COLUMNS)
    return pa.concat_tables(tables, promote_options="permissive")
