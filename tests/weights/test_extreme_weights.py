"""Estimates with extreme weights (down to 1e-299, whose squares underflow) and a unanimous cell,
against R's survey package (weights/reference/extreme_reference.R → tests/weights/fixtures/r_extreme_*.csv).

Before the weights were normalised, squaring them gave SE = 0 for schools R estimates at 1.7 and 4.8
scaled points; a unanimous cell came out as 100.00000000000003 %.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from support.weights import FIXTURES

from weights import compare_means, paired_difference, weighted_mean, weighted_proportions


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    d = pd.read_csv(FIXTURES / "extreme.csv", dtype={"respondent_id": str, "school_id": str, "group": str})
    assert ((d["w"] ** 2) == 0).sum() > 30  # the case: naive squares of these weights underflow
    return d


def r(name: str) -> pd.DataFrame:
    return pd.read_csv(FIXTURES / f"r_extreme_{name}.csv")


def test_category_shares_and_ses_equal_svymean(data):
    ours = weighted_proportions(data, "item", "w", by="group", cluster="school_id")
    ref = r("props")
    both = ref.merge(ours, on=["group", "category"], suffixes=("_r", ""))
    assert len(both) == len(ref)
    assert np.abs(both["proportion"] - both["p"]).max() < 1e-12
    assert (np.abs(both["se"] - both["se_r"]) <= 1e-9 * both["se_r"]).all()  # the unanimous cell: both 0


def test_a_unanimous_cell_is_exactly_100_percent_with_se_exactly_0(data):
    ours = weighted_proportions(data[data["group"] == "b"], "item", "w", cluster="school_id")
    assert ours["proportion"].tolist() == [1.0] and ours["se"].tolist() == [0.0]


def test_school_means_equal_svymean_with_respondents_as_units(data):
    ref = r("school_means").set_index("school_id")
    for school, rows in data.groupby("school_id"):
        est = weighted_mean(rows["score"], rows["w"])
        assert abs(est["mean"] - ref.loc[school, "mean"]) < 1e-9 * abs(ref.loc[school, "mean"])
        assert est["se"] > 0, school
        assert abs(est["se"] - ref.loc[school, "se"]) <= 1e-9 * ref.loc[school, "se"] + 1e-13, school


def test_group_contrast_uses_the_design_degrees_of_freedom(data):
    a = weighted_mean(data.loc[data["group"] == "a", "score"], data.loc[data["group"] == "a", "w"],
                      cluster=data.loc[data["group"] == "a", "school_id"])
    b = weighted_mean(data.loc[data["group"] == "b", "score"], data.loc[data["group"] == "b", "w"],
                      cluster=data.loc[data["group"] == "b", "school_id"])
    ours, ref = compare_means(a, b), r("contrast").iloc[0]
    assert ours["df"] == ref["df"] == 9  # 11 schools - 2 groups (R: degf of the design stratified by group)
    assert abs(ours["difference"] - ref["estimate"]) < 1e-9
    assert abs(ours["se"] - ref["se"]) < 1e-9 * ref["se"]
    assert abs(ours["p_value"] - ref["p"]) < 1e-9
    assert ours["p_value"] > 100 * ref["p_normal"]  # what 1.96 on 9 df would have overstated


def test_matched_growth_is_a_paired_t_on_n_minus_1(data):
    fall = data.loc[data["school_id"] == "A1", "score"].to_numpy()[:10]
    spring = fall + np.array([3, -1, 4, 1, 5, -9, 2, 6, 5, 3])
    ours, ref = paired_difference(fall, spring), r("paired").iloc[0]
    for key in ("mean_diff", "se", "df", "t", "p_value", "ci_low", "ci_high"):
        want = ref["p" if key == "p_value" else key]
        assert abs(ours[key] - want) < 1e-9 * max(1.0, abs(want)), key
