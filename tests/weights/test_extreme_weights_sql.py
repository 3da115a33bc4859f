"""The warehouse's SQL estimator (dbt_project/macros/weighted_proportion.sql) on extreme weights and a
unanimous cell, run in DuckDB, against R's svymean (tests/weights/fixtures/r_extreme_props.csv)."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
from support.dbt_sql import render_macro
from support.weights import FIXTURES


def test_sql_shares_equal_svymean_with_weights_down_to_1e_299():
    data = pd.read_csv(FIXTURES / "extreme.csv", dtype={"school_id": str, "group": str})
    con = duckdb.connect()
    con.register("data", data.rename(columns={"w": "analysis_weight", "item": "category", "group": "grp"}).assign(
        instrument="x", item_id="q"))
    con.execute("create table scale_categories as select 'x' as instrument, 'q' as item_id, unnest(range(5)) as category")
    sql = render_macro("weighted_proportion.sql",
                       "weighted_category_shares('data', ['instrument', 'item_id', 'grp'], "
                       "categories='select * from scale_categories')")
    ours = con.execute(sql).df()
    ref = pd.read_csv(FIXTURES / "r_extreme_props.csv").rename(columns={"group": "grp"})
    both = ref.merge(ours, on=["grp", "category"], suffixes=("_r", ""))
    assert len(both) == len(ref) == 6
    assert np.abs(both["p_r"] - both["p"]).max() < 1e-12
    assert (np.abs(both["se_p"] - both["se"]) <= 1e-9 * both["se"]).all()
    unanimous = ours[ours["grp"] == "b"].set_index("category")
    assert unanimous.loc[3, "p"] == 1.0 and unanimous.loc[3, "se_p"] == 0.0  # exactly, not 1.0000000000000002
    assert (unanimous.drop(index=3)["p"] == 0.0).all() and (unanimous.drop(index=3)["se_p"] == 0.0).all()


def test_the_one_respondent_per_psu_form_equals_the_school_expansion():
    """A school's own distribution takes each respondent as a PSU: the closed form (per-category sums of
    squared weights) must equal the general expansion run with one respondent per PSU."""
    rng = np.random.default_rng(3)
    n = 400
    data = pd.DataFrame({"instrument": "x", "item_id": "q", "grp": rng.choice(["a", "b", "c"], n),
                         "school_id": [f"r{i}" for i in range(n)],
                         "category": rng.choice([0, 1, 2, 3, 4, None], n, p=[.1, .2, .3, .2, .15, .05]),
                         "analysis_weight": rng.lognormal(0, 1.5, n) * 1e-200})
    data.loc[data["grp"] == "c", "category"] = 2  # a unanimous cell: p exactly 1, SE exactly 0
    con = duckdb.connect()
    con.register("data", data)
    con.execute("create table scale_categories as select 'x' as instrument, 'q' as item_id, unnest(range(5)) as category")
    results = []
    for flag in ("false", "true"):
        sql = render_macro("weighted_proportion.sql",
                           "weighted_category_shares('data', ['instrument', 'item_id', 'grp'], "
                           f"categories='select * from scale_categories', one_respondent_per_psu={flag})")
        results.append(con.execute(sql).df().sort_values(["grp", "category"]).reset_index(drop=True))
    general, closed = results
    assert len(general) == 15
    np.testing.assert_array_equal(general["n_in_category"], closed["n_in_category"])
    np.testing.assert_allclose(closed["p"], general["p"], rtol=1e-12)
    np.testing.assert_allclose(closed["se_p"], general["se_p"], rtol=1e-9)
    unanimous = closed[closed["grp"] == "c"].set_index("category")
    assert unanimous.loc[2, "p"] == 1.0 and unanimous.loc[2, "se_p"] == 0.0
