"""Grain: one row per respondent x instrument x school year x term, with the analysis weight.

Weights supplied with the data are used when the sample carries them (samples.csv:
has_external_weights) and every respondent of the group has one; otherwise the respondents of each
instrument x school year x term x sample are raked (weights.rake, equal to R survey's rake())
to the instrument's population margins, starting from the supplied weights when present (else 1).

A margin level with no respondents in the group (e.g. no rural school in a small cohort) cannot be
represented: it is dropped and the variable's remaining totals are scaled up so every variable still
sums to the population total. Small cohorts of a few schools can have margins that no weights meet
(school-level variables confounded); when raking on all variables does not converge (tolerance
1e-6), the last variable is dropped and raking retried; raking_variables records what was used. Group-level diagnostics ride along on every row (same values within
a group) and are published by fct_weighting_diagnostics.
"""

import pandas as pd

RAKING_VARIABLES = ["region", "grade_band", "urbanicity"]
GROUP = ["instrument", "school_year", "term", "sample"]


def _usable_margins(margins: pd.DataFrame, group: pd.DataFrame) -> pd.DataFrame:
    parts = []
    population = margins.groupby("variable")["total"].sum().max()
    for variable, m in margins.groupby("variable", sort=False):
        present = set(group[variable].dropna().astype(str))
        kept = m[m["level"].isin(present)].copy()
        kept["total"] = kept["total"] * population / kept["total"].sum()
        parts.append(kept)
    return pd.concat(parts, ignore_index=True)


def _rake_with_fallback(group: pd.DataFrame, margins: pd.DataFrame):
    from leap.errors import LeapError
    from weights import rake

    sample = group[RAKING_VARIABLES].astype(str).assign(base=group["external_weight"].fillna(1.0))
    usable = _usable_margins(margins, group)
    for k in range(len(RAKING_VARIABLES), 0, -1):
        variables = RAKING_VARIABLES[:k]
        try:
            result = rake(sample, usable[usable["variable"].isin(variables)], base_weights="base",
                          tolerance=1e-6, max_iter=2000)
            return result, variables
        except LeapError as exc:
            if "did not converge" not in exc.message or k == 1:
                raise
    raise AssertionError("unreachable")


def _weigh_group(group: pd.DataFrame, margins: pd.DataFrame, external: bool):
    from weights import kish_design_effect, kish_effective_n

    out = group[GROUP + ["respondent_key"]].copy()
    if external and group["external_weight"].notna().all():
        w = group["external_weight"].astype(float)
        out["weight_method"] = "external"
        out["raking_iterations"] = 0
        out["raking_variables"] = None
    else:
        result, variables = _rake_with_fallback(group, margins)
        w = result.weights
        out["weight_method"] = "raked"
        out["raking_iterations"] = result.diagnostics.iterations
        out["raking_variables"] = ",".join(variables)
    out["analysis_weight"] = w.to_numpy()
    out["group_design_effect"] = kish_design_effect(w)
    out["group_effective_n"] = kish_effective_n(w)
    return out


def model(dbt, session):
    dbt.config(materialized="table")
    respondents = dbt.ref("int_respondents").df()
    margins_all = dbt.ref("population_margins").df()
    samples_df = dbt.ref("samples").df()
    samples = dict(zip(samples_df["sample"], samples_df["has_external_weights"], strict=True))
    margins_all = margins_all[margins_all["variable"].isin(RAKING_VARIABLES)]
    frames = []
    for key, group in respondents.groupby(GROUP, sort=True):
        margins = margins_all[margins_all["instrument"] == key[0]][["variable", "level", "total"]]
        frames.append(_weigh_group(group, margins, bool(samples.get(key[3], False))))
    if not frames:
        return pd.DataFrame(columns=GROUP + ["respondent_key", "weight_method", "raking_iterations", "raking_variables",
                                             "analysis_weight", "group_design_effect", "group_effective_n"])
    return pd.concat(frames, ignore_index=True)
