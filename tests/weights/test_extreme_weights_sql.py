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
