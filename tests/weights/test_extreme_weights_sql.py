"""The warehouse's SQL estimator (dbt_project/macros/weighted_proportion.sql) on extreme weights and a
unanimous cell, run in DuckDB, against R's svymean (tests/weights/fixtures/r_extreme_props.csv)."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest
from support.dbt_sql import CompilerError, render_macro
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


def test_the_summed_form_equals_the_respondent_rows_with_tiny_weights():
    """int_school_item_sums hands the estimator sums of w / k and (w / k)^2 per school x category, k the
    school's mean weight: the estimates must be those of the respondent rows, also with weights near
    1e-200 whose squares underflow unless divided first, for schools as PSUs and for respondents."""
    rng = np.random.default_rng(11)
    n = 600
    data = pd.DataFrame({"instrument": "x", "item_id": "q", "grp": rng.choice(["a", "b"], n),
                         "school_id": rng.choice([f"s{i}" for i in range(12)], n),
                         "category": rng.choice([0, 1, 2, 3, 4, None], n, p=[.1, .2, .3, .2, .15, .05]),
                         "analysis_weight": rng.lognormal(0, 1.5, n) * 1e-200})
    data["k"] = data.groupby("school_id")["analysis_weight"].transform("mean")
    data["ws"], data["ws2"] = data["analysis_weight"] / data["k"], (data["analysis_weight"] / data["k"]) ** 2
    sums = (data.groupby(["instrument", "item_id", "grp", "school_id", "category"], dropna=False)
            .agg(n=("ws", "size"), w_scale=("k", "first"), w_sum=("ws", "sum"), w2_sum=("ws2", "sum"))
            .reset_index())
    assert (sums["w2_sum"] > 0).all() and ((data["analysis_weight"] ** 2) == 0).all()
    con = duckdb.connect()
    con.register("rows_", data.drop(columns=["k", "ws", "ws2"]))
    con.register("sums_", sums)
    con.execute("create table scale_categories as select 'x' as instrument, 'q' as item_id, unnest(range(5)) as category")
    for per_respondent in ("false", "true"):
        frames = []
        for relation, summed in (("rows_", "false"), ("sums_", "true")):
            sql = render_macro("weighted_proportion.sql",
                               f"weighted_category_shares('{relation}', ['instrument', 'item_id', 'grp'], "
                               "categories='select * from scale_categories', "
                               f"one_respondent_per_psu={per_respondent}, summed={summed})")
            frames.append(con.execute(sql).df().sort_values(["grp", "category"]).reset_index(drop=True))
        rows, summed_form = frames
        assert len(rows) == 10 and rows["se_p"].gt(0).all()
        np.testing.assert_array_equal(rows["n_in_category"], summed_form["n_in_category"])
        np.testing.assert_array_equal(rows["n_respondents"], summed_form["n_respondents"])
        for column in ("p", "se_p", "kish_effective_n"):
            np.testing.assert_allclose(summed_form[column], rows[column], rtol=1e-12)


def test_the_top_box_from_the_category_sums_equals_a_binary_run():
    """top_box= adds the share at or above top_box_min as category -1, from the categories' sums: it must
    be the estimate of a binary run on the respondents' top-box indicator (tiny weights, a unanimous cell,
    a cell whose respondents all skipped the item, an item without a top box)."""
    rng = np.random.default_rng(5)
    n = 500
    data = pd.DataFrame({"instrument": "x", "item_id": rng.choice(["q", "r", "s"], n), "grp": rng.choice(["a", "b", "c"], n),
                         "school_id": [f"r{i}" for i in range(n)],
                         "category": rng.choice([0, 1, 2, 3, 4, None], n, p=[.1, .2, .3, .2, .15, .05]),
                         "analysis_weight": rng.lognormal(0, 1.5, n) * 1e-200})
    data.loc[data["grp"] == "c", "category"] = 3  # unanimous, and all in the top box: p exactly 1, SE 0
    data.loc[(data["grp"] == "b") & (data["item_id"] == "r"), "category"] = None  # nobody answered: no cell
    mins = pd.DataFrame({"instrument": "x", "item_id": ["q", "r", "s"], "top_box_min": [3, 2, None]})
    con = duckdb.connect()
    con.register("data", data)
    con.register("mins", mins)
    con.execute("create table scale_categories as select 'x' as instrument, item_id, unnest(range(5)) as category "
                "from (values ('q'), ('r'), ('s')) t(item_id)")
    con.execute("create table top as select d.* replace ((d.category >= m.top_box_min)::int as category) "
                "from data as d join mins as m using (instrument, item_id) where m.top_box_min is not null")
    cells = "['instrument', 'item_id', 'grp']"
    both = con.execute(render_macro("weighted_proportion.sql", f"weighted_category_shares('data', {cells}, "
                                    "categories='select * from scale_categories', one_respondent_per_psu=true, "
                                    "top_box='select instrument, item_id, top_box_min from mins')")).df()
    binary = con.execute(render_macro("weighted_proportion.sql", f"weighted_category_shares('top', {cells}, "
                                      "binary=true, categories='select * from (values (0), (1)) t(category)', "
                                      "category_keys=[], one_respondent_per_psu=true)")).df()
    alone = con.execute(render_macro("weighted_proportion.sql", f"weighted_category_shares('data', {cells}, "
                                     "categories='select * from scale_categories', one_respondent_per_psu=true)")).df()
    key = ["instrument", "item_id", "grp", "category"]
    pd.testing.assert_frame_equal(both[both["category"] >= 0].sort_values(key).reset_index(drop=True),
                                  alone.sort_values(key).reset_index(drop=True))  # the categories: untouched
    top = both[both["category"] == -1].merge(binary[binary["category"] == 1], on=["instrument", "item_id", "grp"],
                                             how="outer", suffixes=("", "_binary"), indicator=True)
    assert (top["_merge"] == "both").all() and len(top) == 5  # q: a, b, c; r: a, c; s: no top box
    for column in ("n_respondents", "n_schools", "n_in_category"):
        np.testing.assert_array_equal(top[column], top[f"{column}_binary"])
    for column in ("p", "se_p", "kish_effective_n"):
        np.testing.assert_allclose(top[column], top[f"{column}_binary"], rtol=1e-12)
    unanimous = top[top["grp"] == "c"]
    assert (unanimous["p"] == 1.0).all() and (unanimous["se_p"] == 0.0).all()
    # without category keys: one top_box_min for every cell
    con.execute("create table q as select * from data where item_id = 'q'")
    one = con.execute(render_macro("weighted_proportion.sql", f"weighted_category_shares('q', {cells}, "
                                   "categories='select * from (values (0), (1), (2), (3), (4)) t(category)', "
                                   "category_keys=[], one_respondent_per_psu=true, "
                                   "top_box='select 3 as top_box_min')")).df()
    keyed = both[(both["item_id"] == "q")]
    pd.testing.assert_frame_equal(one.sort_values(key).reset_index(drop=True)[keyed.columns],
                                  keyed.sort_values(key).reset_index(drop=True), check_dtype=False)


def test_a_top_box_needs_one_respondent_per_psu():
    with pytest.raises(CompilerError, match="top_box needs one_respondent_per_psu=true"):
        render_macro("weighted_proportion.sql", "weighted_category_shares('data', ['grp'], "
                     "top_box='select 1 as top_box_min')")


def test_rows_that_are_their_group_alone_pass_through_to_the_same_bits():
    """single_rows= (int_school_item_shares: the school terms with one grade band and sample): rows flagged
    as their cell x category group alone are taken as their own sums, the others grouped; every estimate
    is the same, bit for bit, as with every row grouped (tiny weights, skipped items, a cell of each kind)."""
    rng = np.random.default_rng(17)
    n = 900
    data = pd.DataFrame({"instrument": "x", "item_id": rng.choice(["q", "r"], n), "grp": rng.choice(["a", "b"], n),
                         "category": rng.choice([0, 1, 2, 3, 4, None], n, p=[.1, .2, .3, .2, .15, .05]),
                         "analysis_weight": rng.lognormal(0, 1.5, n) * 1e-200})
    data["band"] = np.where(data["grp"] == "a", "one", rng.choice(["elementary", "middle"], n))  # b: two bands
    data["k"] = data.groupby(["grp", "band"])["analysis_weight"].transform("mean")
    data["ws"], data["ws2"] = data["analysis_weight"] / data["k"], (data["analysis_weight"] / data["k"]) ** 2
    sums = (data.groupby(["instrument", "item_id", "grp", "band", "category"], dropna=False)
            .agg(n=("ws", "size"), w_scale=("k", "first"), w_sum=("ws", "sum"), w2_sum=("ws2", "sum"))
            .reset_index())
    sums["single"] = sums["grp"] == "a"
    assert sums.groupby(["item_id", "grp", "category"], dropna=False).size()[lambda s: s > 1].index.get_level_values(
        "grp").unique().tolist() == ["b"]  # only b's groups have several rows
    con = duckdb.connect()
    con.register("sums_", sums)
    con.register("mins", pd.DataFrame({"instrument": "x", "item_id": ["q", "r"], "top_box_min": [3, None]}))
    con.execute("create table scale_categories as select 'x' as instrument, item_id, unnest(range(5)) as category "
                "from (values ('q'), ('r')) t(item_id)")
    frames = []
    for extra in ("", ", single_rows='single'"):
        sql = render_macro("weighted_proportion.sql", "weighted_category_shares('sums_', ['instrument', 'item_id', "
                           "'grp'], categories='select * from scale_categories', one_respondent_per_psu=true, "
                           f"summed=true, top_box='select instrument, item_id, top_box_min from mins'{extra})")
        frames.append(con.execute(sql).df().sort_values(["item_id", "grp", "category"]).reset_index(drop=True))
    grouped, passed = frames
    assert len(grouped) == 2 * 2 * 5 + 2 and grouped["se_p"].gt(0).any()
    pd.testing.assert_frame_equal(passed, grouped, check_exact=True)
    with pytest.raises(CompilerError, match="single_rows needs"):
        render_macro("weighted_proportion.sql", "weighted_category_shares('sums_', ['grp'], summed=true, "
                     "single_rows='single')")
