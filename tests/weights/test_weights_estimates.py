"""Weighted proportions, SEs and group differences against R's svymean / svycontrast (stored outputs)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from support.weights import max_rel, reference, sample_with_r_weights

from leap.errors import LeapError
from weights import compare_groups, weighted_proportions

DESIGNS = [("srs", None), ("cluster", "school_id")]


def _ours(df: pd.DataFrame, cluster: str | None) -> pd.DataFrame:
    """Our estimates in the layout of r_svymean.csv: group all / national / nextgen, categories 1-4 + top2."""
    frames = []
    for column in ("item", "top2"):
        whole = weighted_proportions(df, column, "w", cluster=cluster).assign(group="all")
        by = weighted_proportions(df, column, "w", by="sample", cluster=cluster)
        by = by.rename(columns={"sample": "group"})
        est = pd.concat([whole, by])
        if column == "top2":
            est = est[est["category"] == 1].assign(category="top2")
        frames.append(est.assign(category=lambda e: e["category"].map(lambda c: str(c).removesuffix(".0"))))
    return pd.concat(frames)


@pytest.mark.parametrize(("design", "cluster"), DESIGNS)
def test_proportions_and_ses_equal_r_svymean(design, cluster):
    ref = reference("svymean").query("design == @design")
    both = ref.merge(_ours(sample_with_r_weights(), cluster), on=["group", "category"], suffixes=("_r", ""))
    assert len(both) == len(ref) == 15
    assert np.abs(both["proportion"] - both["proportion_r"]).max() < 1e-12
    assert max_rel(both["se"], both["se_r"]) < 1e-9


@pytest.mark.parametrize(("design", "cluster"), DESIGNS)
def test_group_difference_equals_r(design, cluster):
    est = weighted_proportions(sample_with_r_weights(), "item", "w", by="sample", cluster=cluster)
    diff = compare_groups(est, "sample", "national", "nextgen")
    ref = reference("contrast").query("design == @design")
    assert np.abs(diff["difference"].to_numpy() - ref["difference"].to_numpy()).max() < 1e-12
    assert max_rel(diff["se"], ref["se_separate"]) < 1e-9
    # t on the design degrees of freedom: clusters (or respondents) of both groups - 2
    units = "school_id" if cluster else "respondent_id"
    n_units = sample_with_r_weights().groupby("sample")[units].nunique()
    assert (diff["df"] == n_units["national"] + n_units["nextgen"] - 2).all()
    p = 2 * stats.t.sf(np.abs(ref["difference"] / ref["se_separate"]), diff["df"])
    assert np.abs(diff["p_value"].to_numpy() - np.asarray(p)).max() < 1e-9
    assert diff["significant"].tolist() == list(np.asarray(p) < 0.05)


@pytest.mark.parametrize(("design", "cluster"), DESIGNS)
def test_pooled_svyby_contrast_differs_only_by_the_finite_correction(design, cluster):
    """svyby(covmat = TRUE) + svycontrast on one pooled design = our SEs with the pooled m/(m-1) per group."""
    df = sample_with_r_weights().dropna(subset=["item"])
    est = weighted_proportions(df, "item", "w", by="sample", cluster=cluster)
    units = df[cluster] if cluster else df["respondent_id"]
    m_all = units.nunique()
    m_group = units.groupby(df["sample"]).nunique()
    factor = est["sample"].map(lambda g: (m_all / (m_all - 1)) / (m_group[g] / (m_group[g] - 1)))
    pooled = compare_groups(est.assign(se=est["se"] * np.sqrt(factor)), "sample", "national", "nextgen")
    assert max_rel(pooled["se"], reference("contrast").query("design == @design")["se_svyby"]) < 1e-9


def test_closed_form_for_sql_equals_linearization():
    """The aggregate-only formulas in weights.estimates (what the dbt SQL computes) give the same SEs."""
    df = sample_with_r_weights()
    est = weighted_proportions(df, "item", "w", by="sample", cluster="school_id")
    est = est.set_index(["sample", "category"])
    srs = weighted_proportions(df, "item", "w", by="sample").set_index(["sample", "category"])
    for (group, cat), row in est.iterrows():
        g = df[df["sample"] == group]
        a = g.dropna(subset=["item"])
        big_w, s, n = a["w"].sum(), (a["w"] ** 2).sum(), len(g)
        p = a.loc[a["item"] == cat, "w"].sum() / big_w
        s_k = (a.loc[a["item"] == cat, "w"] ** 2).sum()
        var_srs = n / (n - 1) * ((1 - 2 * p) * s_k + p**2 * s) / big_w**2
        by_school = a.assign(wk=a["w"] * (a["item"] == cat)).groupby("school_id")[["w", "wk"]].sum()
        c = g["school_id"].nunique()
        var_cl = c / (c - 1) * ((by_school["wk"] - p * by_school["w"]) ** 2).sum() / big_w**2
        assert srs.loc[(group, cat), "se"] == pytest.approx(np.sqrt(var_srs), rel=1e-10)
        assert row["se"] == pytest.approx(np.sqrt(var_cl), rel=1e-10)
        assert row["n_effective"] == pytest.approx(big_w**2 / s, rel=1e-12)


def test_counts_categories_and_sums():
    df = sample_with_r_weights()
    est = weighted_proportions(df, "item", "w", by=["sample", "grade_band"], categories=[1, 2, 3, 4, 5])
    sums = est.groupby(["sample", "grade_band"])["proportion"].sum()
    assert np.allclose(sums, 1.0)
    empty = est[est["category"] == 5]
    assert (empty["proportion"] == 0).all() and (empty["se"] == 0).all() and (empty["n_category"] == 0).all()
    answered = df.dropna(subset=["item"]).groupby(["sample", "grade_band"]).size()
    assert est.groupby(["sample", "grade_band"])["n"].first().tolist() == answered.tolist()
    assert (est["n_effective"] <= est["n"]).all()


def test_single_psu_gives_nan_se_and_no_significance():
    df = sample_with_r_weights()
    one = df[df["school_id"].isin(["S00", "S01"])]
    est = weighted_proportions(one, "item", "w", by="school_id", cluster="school_id")
    assert est["se"].isna().all()
    assert not compare_groups(est, "school_id", "S00", "S01")["significant"].any()


def test_estimate_errors():
    df = sample_with_r_weights()
    with pytest.raises(LeapError, match="lack column.*nope"):
        weighted_proportions(df, "nope", "w")
    with pytest.raises(LeapError, match="not in the categories"):
        weighted_proportions(df, "item", "w", categories=[1, 2, 3])
    with pytest.raises(LeapError, match="non-positive"):
        weighted_proportions(df.assign(w=0.0), "item", "w")
    with pytest.raises(LeapError, match="no estimates for sample=leap_network"):
        est = weighted_proportions(df, "item", "w", by="sample")
        compare_groups(est, "sample", "national", "leap_network")
