"""The raking model rakes cells, not respondents (int_weighting_cells.py, int_respondent_weights.sql):
respondents alike in every raking variable and base weight end with the same weight, so raking the
cells (base weight n*b) and giving each respondent its cell's weight / n must equal raking every
respondent with weights.rake — checked here through the dbt models' own code and SQL on DuckDB."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from support.dbt_sql import render_model

from weights import kish_design_effect, kish_effective_n, rake

MODELS = Path(__file__).resolve().parents[2] / "dbt_project" / "models" / "intermediate"
REGIONS, BANDS, URBAN = ["northeast", "midwest", "south", "west"], ["elementary", "middle", "high"], ["urban", "rural"]


@pytest.fixture(scope="module")
def model():
    spec = importlib.util.spec_from_file_location("int_weighting_cells", MODELS / "int_weighting_cells.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _margins() -> pd.DataFrame:
    rows = [("region", lv, t) for lv, t in zip(REGIONS, [2e5, 3e5, 4e5, 1e5], strict=True)]
    rows += [("grade_band", lv, t) for lv, t in zip(BANDS, [5e5, 2.5e5, 2.5e5], strict=True)]
    rows += [("urbanicity", lv, t) for lv, t in zip(URBAN, [6e5, 4e5], strict=True)]
    return pd.DataFrame(rows, columns=["variable", "level", "total"]).assign(instrument="student")


def _respondents(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    external = rng.choice([2.0, 5.0, 11.5], n)
    external[rng.random(n) < 0.4] = np.nan  # partly supplied: the group is raked from base weights
    return pd.DataFrame({
        "instrument": "student", "school_year": "2024-25", "term": rng.choice(["fall", "spring"], n),
        "sample": rng.choice(["national", "nextgen"], n, p=[0.85, 0.15]),
        "respondent_key": [f"r{i:05d}" for i in rng.permutation(n)], "external_weight": external,
        "region": rng.choice(REGIONS, n, p=[0.1, 0.3, 0.4, 0.2]), "grade_band": rng.choice(BANDS, n),
        "urbanicity": rng.choice(URBAN, n, p=[0.7, 0.3])})


def _sql_weights(con, model, respondents: pd.DataFrame, weighting: dict) -> pd.DataFrame:
    cells = model.weighting_cells(con.from_df(respondents), _margins(), weighting)
    con.register("cells_df", cells)
    con.execute("create or replace table cells as select * from cells_df")
    con.register("resp_df", respondents)
    con.execute("create or replace table respondents as select * from resp_df")
    sql = render_model(MODELS / "int_respondent_weights.sql",
                       {"int_respondents": "respondents", "int_weighting_cells": "cells"})
    return con.execute(sql).df()


def test_cell_raking_equals_raking_every_respondent(model):
    respondents = _respondents(6000, seed=3)
    con = duckdb.connect()
    got = _sql_weights(con, model, respondents, {"national": "external", "nextgen": "unweighted"})
    assert len(got) == len(respondents) and got["analysis_weight"].notna().all()
    for (term, sample), group in respondents.groupby(["term", "sample"]):
        mine = got[(got["term"] == term) & (got["sample"] == sample)].set_index("respondent_key")
        if sample == "nextgen":
            assert set(mine["weight_method"]) == {"unweighted"} and (mine["analysis_weight"] == 1.0).all()
            continue
        base = group.assign(base=group["external_weight"].fillna(1.0)).set_index("respondent_key")
        expected = rake(base[model.RAKING_VARIABLES + ["base"]], _margins().drop(columns="instrument"),
                        base_weights="base", tolerance=1e-6, max_iter=2000)
        assert set(mine["weight_method"]) == {"raked"}
        w = mine.loc[base.index, "analysis_weight"].to_numpy()
        np.testing.assert_allclose(w, expected.weights.to_numpy(), rtol=1e-12)
        assert mine["raking_iterations"].iloc[0] == expected.diagnostics.iterations
        assert mine["group_design_effect"].iloc[0] == pytest.approx(kish_design_effect(w), rel=1e-12)
        assert mine["group_effective_n"].iloc[0] == pytest.approx(kish_effective_n(w), rel=1e-12)


def test_supplied_weights_pass_through(model):
    respondents = _respondents(3000, seed=8)
    complete = respondents.assign(external_weight=np.random.default_rng(1).uniform(1, 40, len(respondents)))
    got = _sql_weights(duckdb.connect(), model, complete, {"national": "external", "nextgen": "external"})
    assert set(got["weight_method"]) == {"external"}
    merged = got.merge(complete, on=["term", "sample", "respondent_key"])
    assert (merged["analysis_weight"] == merged["external_weight"]).all()


def test_unmeetable_margins_drop_the_last_variable_as_with_every_respondent(model):
    """Every western respondent rural, every other urban: the region and urbanicity margins contradict
    each other, so the fallback drops urbanicity and rakes on region and grade band."""
    respondents = _respondents(3000, seed=8).query("sample == 'national'")
    respondents = respondents.assign(urbanicity=np.where(respondents["region"] == "west", "rural", "urban"))
    got = _sql_weights(duckdb.connect(), model, respondents, {"national": "external"})
    assert set(got["raking_variables"]) == {"region,grade_band"}
    assert got["weighting_note"].str.contains("region,grade_band,urbanicity: ").all()
    for term, group in respondents.groupby("term"):
        base = group.assign(base=group["external_weight"].fillna(1.0)).set_index("respondent_key")
        margins = _margins().query("variable != 'urbanicity'").drop(columns="instrument")
        expected = rake(base[["region", "grade_band", "base"]], margins, base_weights="base", tolerance=1e-6,
                        max_iter=2000)
        mine = got[got["term"] == term].set_index("respondent_key").loc[base.index]
        np.testing.assert_allclose(mine["analysis_weight"], expected.weights.to_numpy(), rtol=1e-12)


def test_two_builds_agree_to_the_last_bit_whatever_the_threads(model):
    """Exact sums: the design effect does not depend on the order DuckDB's threads meet the rows in."""
    respondents = _respondents(20000, seed=11)
    runs = []
    for threads in (1, 4):
        con = duckdb.connect(config={"threads": threads})
        runs.append(_sql_weights(con, model, respondents.sample(frac=1, random_state=threads),
                                 {"national": "external", "nextgen": "unweighted"}).sort_values(
            ["term", "sample", "respondent_key"], ignore_index=True))
    pd.testing.assert_frame_equal(runs[0], runs[1], check_exact=True)
