"""DIF statistics (scoring_jobs/rasch/dif.py, mantel.py) against R and by hand.

References: scoring_jobs/rasch/reference/dif_reference.R (eRm LRtest/Waldtest, psychotools itempar/anchortest,
vcdExtra CMHtest) on dif_sim_pcm.csv and dif_science.csv (scoring_jobs/rasch/reference/make_dif_data.py).

Tolerances (measured differences in brackets). CML is deterministic and every engine stops at the same
maximum, ours at a Newton step below 1e-9, eRm's nlm and psychotools' optim a little earlier:
* Andersen LR, eRm LRtest: statistic within 1e-5 absolute [<= 4e-7], df equal, log-likelihoods within
  1e-5 [<= 8e-7], p within 1e-5 relative [<= 1.3e-7].
* eRm Waldtest: parameters within 2e-4 logits [<= 6e-5]; standard errors within 5e-4 relative
  [<= 2e-4: eRm's come from nlm's finite-difference Hessian, ours from the analytic one]; z within 1e-3
  [<= 4e-4, |z| up to 6.8].
* psychotools item-location contrasts (anchortest "fixed"): contrast within 1e-4 logits [<= 2e-5], SE
  within 1e-4 relative [<= 4e-6], z within 5e-4 [<= 1.3e-4].
* Mantel, vcdExtra CMHtest: closed-form sums, 1e-8 relative.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from support.rasch import FIXTURES, load_reference

from scoring_jobs.rasch.dif import ITEM_COLUMNS, _label, _labels, dif_analysis
from scoring_jobs.rasch.mantel import ets_class, mantel

SIM_GROUPS = ("A", "B", "C")


def _load(name: str, group_col: str) -> tuple[np.ndarray, pd.Series, list[str]]:
    d = pd.read_csv(FIXTURES / name)
    items = [c for c in d.columns if c not in ("id", group_col)]
    return d[items].to_numpy(float), d[group_col], items


@pytest.fixture(scope="module")
def sim():
    """The simulated data, all three groups: i04 is 0.6 logits harder for group B, B and C differ in mean."""
    resp, groups, items = _load("dif_sim_pcm.csv", "group")
    return resp, groups, items, dif_analysis(resp, groups, item_names=items, min_category_n=1)


@pytest.fixture(scope="module")
def sim_all(sim):
    """The same with every item as anchor (and in the Mantel matching score), as the R references."""
    resp, groups, items, _ = sim
    return dif_analysis(resp, groups, item_names=items, min_category_n=1, anchor="all")


def _science(model: str, anchor="all"):
    resp, groups, items = _load("dif_science.csv", "half")
    return dif_analysis(resp, groups, model=model, item_names=items, min_group_n=50, min_category_n=1,
                        anchor=anchor)


# ------------------------------------------------------------------------------------- against eRm


def _lr_cases():
    ref = load_reference("dif_erm_lr.csv")
    return [tuple(r) for r in ref[["data", "model", "groups"]].itertuples(index=False)]


def _result_for(data: str, model: str, groups: str, sim=None):
    labels = groups.split("|")
    if data == "science":
        return _science(model)
    resp, g, items, full = sim
    if labels == list(SIM_GROUPS):
        return full
    keep = g.isin(labels).to_numpy()
    return dif_analysis(resp[keep], g[keep], model=model, item_names=items, min_category_n=1)


@pytest.mark.parametrize(("data", "model", "groups"), _lr_cases())
def test_andersen_lr_matches_erm(sim, data, model, groups):
    ref = load_reference("dif_erm_lr.csv").set_index(["data", "model", "groups"]).loc[(data, model, groups)]
    res = _result_for(data, model, groups, sim)
    lr = res.lr.iloc[0]
    assert lr["groups"] == groups and pd.isna(ref["items_excluded"]) and lr["items_excluded"] is None
    assert lr["df"] == ref["df"]
    assert lr["lr_chi2"] == pytest.approx(ref["lr"], abs=1e-5)
    assert lr["p_value"] == pytest.approx(ref["p_value"], rel=1e-5)
    assert lr["loglik_pooled"] == pytest.approx(ref["loglik_pooled"], abs=1e-5)
    per_group = load_reference("dif_erm_lr_groups.csv").query("data == @data and model == @model and groups == @groups")
    for g, ll in zip(per_group["group"], per_group["loglik"], strict=True):
        assert res.group_fits[str(g)].loglik == pytest.approx(ll, abs=1e-5)


def _erm_betas(res) -> tuple[np.ndarray, np.ndarray]:
    """eRm's item-category parameters and SEs from one of our group fits, by an independent route.

    eRm's ``beta_ix`` is an easiness, cumulative over the categories: ``-sum_{k<=x} threshold_ik + c x``,
    with ``c`` (a shift of the origin, which moves category x by c x) set by eRm's sum-zero: PCM the sum
    of all betas is 0; RSM (item parameters sum to 0, first category parameter 0) the betas of
    category 1 sum to 0. A linear map B of our thresholds, so cov(beta) = B cov B'."""
    steps = res.step_index
    t = np.array([res.thresholds[i, k - 1] for i, k in steps])
    cum = np.array([[float(i2 == i and k2 <= k) for i2, k2 in steps] for i, k in steps])
    x = np.array([k for _, k in steps], dtype=float)
    w = np.ones(len(steps)) if res.model == "pcm" else (x == 1).astype(float)
    B = -cum + np.outer(x, w @ cum) / (w @ x)
    return B @ t, np.sqrt(np.diag(B @ res.cov @ B.T))


@pytest.mark.parametrize(("data", "model"), [("sim_pcm", "pcm"), ("science", "pcm"), ("science", "rsm")])
def test_wald_parameters_match_erm_waldtest(sim, data, model):
    """eRm's Waldtest (two groups) tests every item-category parameter: z = (beta_1 - beta_2) / se."""
    ref = load_reference("dif_erm_wald.csv").query("data == @data and model == @model")
    g1, g2 = str(ref["group1"].iloc[0]), str(ref["group2"].iloc[0])
    res = _science(model) if data == "science" else _result_for(data, model, f"{g1}|{g2}", sim)
    (b1, s1), (b2, s2) = _erm_betas(res.group_fits[g1]), _erm_betas(res.group_fits[g2])
    np.testing.assert_allclose(b1, ref["beta1"], atol=2e-4)
    np.testing.assert_allclose(b2, ref["beta2"], atol=2e-4)
    np.testing.assert_allclose(s1, ref["se1"], rtol=5e-4)
    np.testing.assert_allclose(s2, ref["se2"], rtol=5e-4)
    np.testing.assert_allclose((b1 - b2) / np.hypot(s1, s2), ref["z"], atol=1e-3)


@pytest.mark.parametrize(("data", "model", "anchor"),
                         [("sim_pcm", "pcm", "all"), ("sim_pcm", "pcm", "all_but_i04"), ("science", "pcm", "all"),
                          ("science", "rsm", "all")])
def test_location_wald_matches_psychotools(sim, data, model, anchor):
    """Our item-location Wald test with a given anchor = psychotools itempar(ref = anchor) contrasts
    (anchortest class "fixed"). psychotools reports group1 - group2 = reference - focal: the sign flips."""
    ref = load_reference("dif_psychotools_locations.csv").query(
        "data == @data and model == @model and anchor == @anchor")
    if data == "science":
        res = _science(model)
    else:
        resp, g, items, _ = sim
        keep = g.isin(["A", "B"]).to_numpy()
        anchors = "all" if anchor == "all" else [n for n in items if n != "i04"]
        res = dif_analysis(resp[keep], g[keep], item_names=items, min_category_n=1, anchor=anchors)
    ours = res.items.set_index("item").loc[ref["item"]]
    assert (ours["reference_group"] == ref["group1"].astype(str).to_numpy()).all()
    np.testing.assert_allclose(ours["dif_contrast_logits"], -ref["contrast"], atol=1e-4)
    np.testing.assert_allclose(ours["dif_contrast_se"], ref["se"], rtol=1e-4)
    np.testing.assert_allclose(ours["wald_z"], -ref["z"], atol=5e-4)


# ------------------------------------------------------------------------------------------ Mantel


@pytest.mark.parametrize(("data", "focal"), [("sim_pcm", "B"), ("sim_pcm", "C"), ("science", "odd")])
def test_mantel_matches_vcdextra(sim_all, data, focal):
    """vcdExtra's CMHtest "rmeans" matched on all items (our anchor="all"; purification refines the match)."""
    ref = load_reference("dif_vcdextra_mantel.csv").query("data == @data and focal == @focal")
    res = _science("pcm") if data == "science" else sim_all
    ours = res.items[res.items["group"] == focal].set_index("item").loc[ref["item"]]
    np.testing.assert_allclose(ours["mantel_chi2"], ref["mantel_chi2"], rtol=1e-8)
    np.testing.assert_allclose(ours["mantel_p"], ref["p_value"], rtol=1e-6)
    np.testing.assert_allclose(ours["smd"], ref["smd"], rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(ours["smd_sd"], ref["smd"] / ref["sd_total"], rtol=1e-8, atol=1e-12)


def test_mantel_worked_example():
    """Two strata, by hand. Stratum 1: reference scores 0, 1; focal 2, 2 (n = 4, S = 5, Q = 9, F = 4):
    E = 2*5/4 = 2.5, Var = 2*2*(4*9 - 25)/(16*3) = 44/48. Stratum 2: reference 1; focal 0, 2 (n = 3, S = 3,
    Q = 5, F = 2): E = 2*3/3 = 2, Var = 2*1*(15 - 9)/(9*2) = 12/18. A one-person stratum adds nothing.
    chi2 = (4 + 2 - 2.5 - 2)^2 / (44/48 + 12/18) = 2.25 / 1.5833 = 1.42105.
    SMD (focal weights 2, 2): stratum 1 mean_F 2 - mean_R 0.5 = 1.5; stratum 2: 1 - 1 = 0 -> 0.75."""
    y = np.array([0, 1, 2, 2, 1, 0, 2, 2])
    focal = np.array([0, 0, 1, 1, 0, 1, 1, 1], dtype=bool)
    stratum = np.array([1, 1, 1, 1, 2, 2, 2, 3])
    m = mantel(y, focal, stratum)
    assert m.chi2 == pytest.approx(2.25 / (44 / 48 + 12 / 18), rel=1e-12)
    assert m.p_value == pytest.approx(stats.chi2.sf(m.chi2, 1), rel=1e-12)
    assert m.smd == pytest.approx(0.75, rel=1e-12)
    assert (m.n_focal, m.n_reference) == (5, 3)


def test_mantel_dichotomous_equals_cochran_mantel_haenszel():
    """For a 0/1 item Mantel's statistic is the Cochran-Mantel-Haenszel chi-square without continuity
    correction: sum(a - E a)^2 / sum n1 n0 m1 m0 / (n^2 (n - 1)) over the 2x2 tables."""
    rng = np.random.default_rng(3)
    stratum = rng.integers(0, 6, 400)
    focal = rng.random(400) < 0.4
    y = (rng.random(400) < 0.3 + 0.08 * stratum + 0.1 * focal).astype(int)
    num = den = 0.0
    for k in np.unique(stratum):
        s = stratum == k
        n, n1, m1 = s.sum(), (s & focal).sum(), y[s].sum()
        num += (y[s & focal].sum() - n1 * m1 / n)
        den += n1 * (n - n1) * m1 * (n - m1) / (n**2 * (n - 1))
    assert mantel(y, focal, stratum).chi2 == pytest.approx(num**2 / den, rel=1e-12)


@pytest.mark.parametrize(("p", "smd", "sd", "expected"), [
    (0.01, 0.10, 1.0, "A"), (0.20, 0.50, 1.0, "A"), (0.01, 0.17, 1.0, "A"), (0.01, -0.20, 1.0, "B"),
    (0.01, 0.25, 1.0, "B"), (0.01, 0.26, 1.0, "C"), (0.01, -0.30, 1.2, "B"), (np.nan, 0.3, 1.0, None),
])
def test_ets_class_rules(p, smd, sd, expected):
    assert ets_class(p, smd, sd) == expected


# ------------------------------------------------------------------------------------ behaviour


def test_planted_dif_item_is_found_and_nothing_else(sim):
    """i04 is 0.6 logits harder for B; group means differ (A 0.3, B -0.2, C 0) and must not show as DIF."""
    items = sim[3].items
    flagged = items[items["flagged"]]
    assert list(zip(flagged["item"], flagged["group"], strict=True)) == [("i04", "B")]
    i04 = items.set_index(["group", "item"]).loc[("B", "i04")]
    assert i04["dif_contrast_logits"] == pytest.approx(0.6, abs=2 * i04["dif_contrast_se"])
    assert i04["ets_class"] in ("B", "C") and i04["smd"] < 0 and i04["mantel_q"] < 0.05
    assert sim[3].anchors["B"] == [n for n in sim[2] if n != "i04"]  # purification dropped i04
    assert sim[3].lr.iloc[0]["p_value"] < 1e-6


def test_output_grain_and_columns(sim):
    items = sim[3].items
    assert list(items.columns) == ITEM_COLUMNS
    assert len(items) == 20 and not items.duplicated(["item", "group"]).any()  # item x focal group
    assert set(items["group"]) == {"B", "C"} and (items["reference_group"] == "A").all()
    assert (items["n_reference"] <= 700).all() and (items["n_focal"] <= 500).all()
    assert len(sim[3].lr) == 1 and list(sim[3].groups["role"]) == ["reference", "focal", "focal"]


def test_anchor_all_is_sum_zero_and_spreads_the_dif(sim, sim_all):
    """With every item as anchor the contrasts sum to 0 within a comparison: the planted DIF leaks as
    about -d/I onto every other item, which purification removes."""
    _, _, items, purified = sim
    b = sim_all.items[sim_all.items["group"] == "B"].set_index("item")
    assert b["dif_contrast_logits"].sum() == pytest.approx(0, abs=1e-9)
    p = purified.items[purified.items["group"] == "B"].set_index("item")
    others = [n for n in items if n != "i04"]
    assert p.loc[others, "dif_contrast_logits"].mean() > b.loc[others, "dif_contrast_logits"].mean() + 0.04
    assert p.loc["i04", "wald_z"] == pytest.approx(b.loc["i04", "wald_z"], rel=1e-9)  # same z: scaled by I/(I-1)


def test_small_group_is_not_testable(sim):
    resp, groups, items, _ = sim
    g = groups.copy()
    g.iloc[1200:1260] = "D"  # 60 persons of C
    res = dif_analysis(resp, g, item_names=items, min_category_n=1)
    d = res.items[res.items["group"] == "D"]
    assert len(d) == 10 and not d["testable"].any() and not d["flagged"].any()
    assert d["reason"].str.contains("group D: 60 persons, fewer than min_group_n = 100").all()
    assert d["wald_z"].isna().all() and d["mantel_chi2"].isna().all() and d["ets_class"].isna().all()
    assert res.lr.iloc[0]["groups"] == "A|B|C"
    row = res.groups.set_index("group").loc["D"]
    assert not row["testable"] and row["n_persons"] == 60


def test_rare_category_makes_an_item_not_testable(sim):
    resp, groups, items, _ = sim
    r = resp.copy()
    in_c = (groups == "C").to_numpy()
    r[in_c & (r[:, 6] == 3), 6] = 2  # nobody in C uses i07's top category
    res = dif_analysis(r, groups, item_names=items, min_category_n=1)
    i07 = res.items[res.items["item"] == "i07"]
    assert not i07["testable"].any() and i07["wald_z"].isna().all()
    assert i07["reason"].str.contains("category 3 has 0 non-extreme responses in group C").all()
    assert res.lr.iloc[0]["items_excluded"] == "i07" and res.lr.iloc[0]["n_items"] == 9
    assert res.items[res.items["item"] != "i07"]["testable"].all()


def test_reference_group_and_ties():
    rng = np.random.default_rng(5)
    resp = rng.integers(0, 3, (400, 5))
    groups = np.array(["y"] * 200 + ["x"] * 200)
    assert dif_analysis(resp, groups).reference_group == "x"  # a tie goes to the first label
    assert dif_analysis(resp, groups, reference_group="y").reference_group == "y"
    with pytest.raises(ValueError, match="reference group 'z' is not among the groups: x, y"):
        dif_analysis(resp, groups, reference_group="z")


def test_missing_labels_are_left_out_and_numeric_labels_read_as_text():
    rng = np.random.default_rng(6)
    resp = rng.integers(0, 3, (450, 5))
    groups = np.array([1.0] * 200 + [2.0] * 200 + [np.nan] * 50)
    res = dif_analysis(resp, groups)
    assert list(res.groups["group"]) == ["1", "2"] and res.lr.iloc[0]["n_persons"] == 400


def test_text_labels_are_read_once_per_value_as_each_would_be_alone():
    # the labels of text groups are made per distinct value (dif._labels); the same as value by value
    values = np.array([" b", "a", "", None, np.nan, "a ", "b", None], dtype=object)
    assert _labels(values, 8).tolist() == [_label(v) for v in values] == ["b", "a", None, None, None, "a", "b", None]
    mixed = np.array([1, True, 2.0, "x", None], dtype=object)  # 1 and True are one value to a hash table
    assert _labels(mixed, 5).tolist() == ["1", "True", "2", "x", None]


def test_too_few_groups_nothing_testable(sim):
    resp, groups, items, _ = sim
    res = dif_analysis(resp, groups, item_names=items, min_group_n=600)
    assert not res.lr.iloc[0]["testable"] and "fewer than two groups" in res.lr.iloc[0]["reason"]
    assert not res.items["testable"].any() and len(res.items) == 20
    assert res.items["reason"].str.startswith("group ").all()


def test_rsm_has_no_step_test(sim):
    resp, groups, items, _ = sim
    res = dif_analysis(resp, groups, model="rsm", item_names=items, min_category_n=1)
    assert res.items["steps_chi2"].isna().all() and res.items["wald_z"].notna().all()
    assert res.lr.iloc[0]["df"] == 2 * (9 + 2)


def test_summary_and_files(sim, tmp_path):
    out = sim[3].to_dir(tmp_path / "dif")
    items = pd.read_csv(out / "dif_items.csv")
    assert list(items.columns) == ITEM_COLUMNS and len(items) == 20
    lr = pd.read_csv(out / "dif_lr.csv")
    assert lr.loc[0, "df"] == 58
    summary = json.loads((out / "summary.json").read_text())
    assert summary["reference_group"] == "A" and summary["converged"] is True
    assert summary["flagged"][0]["item"] == "i04" and summary["anchor"] == "purify"


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"model": "2pl"}, "model must be one of"),
    ({"anchor": "best"}, "anchor must be"),
    ({"anchor": ["nope"]}, "anchor items must be analysed items"),
    ({"min_group_n": 0}, "at least 1"),
])
def test_bad_options(sim, kwargs, message):
    resp, groups, items, _ = sim
    with pytest.raises(ValueError, match=message):
        dif_analysis(resp, groups, item_names=items, **kwargs)


def test_small_reference_group_makes_its_comparisons_not_testable(sim):
    """The LR test still runs over the groups large enough; no item is compared with a too-small reference."""
    resp, groups, items, _ = sim
    res = dif_analysis(resp, groups, item_names=items, min_category_n=1, min_group_n=400, reference_group="C")
    assert res.lr.iloc[0]["testable"] and res.lr.iloc[0]["groups"] == "A|B"
    assert not res.items["testable"].any() and set(res.items["group"]) == {"A", "B"}
    assert res.items["reason"].str.startswith("reference group C: 300 persons, fewer than min_group_n").all()


def test_a_large_sample_purifies_the_anchor_when_every_item_is_flagged():
    """200,000 persons per group, 0.3 logit DIF on one of 7 items: against the all-items anchor the other
    six items carry -0.3/7 each, which is significant at this size, so every item is flagged and dropping
    the flagged ones would empty the anchor. Purification then drops the item farthest from the median
    contrast: only the planted item is flagged, its contrast recovered (it was 0.253 = 0.3 (1 - 1/7))."""
    from scoring_jobs.rasch.simulate import simulate_responses

    rng = np.random.default_rng(5)
    thr = np.sort(rng.normal(0, 1.2, (7, 4)), axis=1)
    n = 200_000
    theta_r, theta_f = rng.normal(0.3, 1, n), rng.normal(0.0, 1, n)
    shifted = thr.copy()
    shifted[0] += 0.3
    resp = np.vstack([simulate_responses(theta_r, thr, rng), simulate_responses(theta_f, shifted, rng)])
    r = dif_analysis(resp, ["ref"] * n + ["focal"] * n, reference_group="ref")
    flagged = r.items[r.items["flagged"]]
    assert list(flagged["item"]) == ["item1"]
    assert flagged["dif_contrast_logits"].iloc[0] == pytest.approx(0.3, abs=0.03)
    assert "item1" not in r.anchors["focal"] and len(r.anchors["focal"]) == 6


def test_identical_persons_collapse_into_counts_that_give_the_same_bits(sim):
    """The analysis collapses persons with the same responses and group into one row with a count; the
    rows repeated by their counts are the persons again, whether packed into one integer key or, for
    responses too wide for one, compared as rows; and Mantel's statistic with the counts is the one on the
    repeated rows to the bit (its SD to the last bits)."""
    from scoring_jobs.rasch.dif import _collapse, _row_keys
    from scoring_jobs.rasch.io import as_responses

    resp, groups, _, _ = sim
    resp, labels = as_responses(resp), _labels(groups, len(groups))
    r, g, freq = _collapse(resp, labels)
    assert freq.sum() == len(resp) and len(r) < len(resp)

    def rows(a, lab):
        return sorted(map(tuple, np.column_stack([a, pd.factorize(lab)[0]]).tolist()))

    assert rows(np.repeat(r, freq, axis=0), np.repeat(g, freq)) == rows(resp, labels)
    wide = np.repeat(resp, 10, axis=1)  # 10 x the items: more than 63 bits
    assert _row_keys(wide, np.zeros(len(resp), int)) is None
    rw, _, fw = _collapse(wide, labels)
    assert sorted(map(tuple, np.repeat(rw, fw, axis=0).tolist())) == sorted(map(tuple, wide.tolist()))
    ok = r[:, 0] >= 0
    strata = r[ok, 1:].sum(axis=1)
    m = mantel(r[ok, 0], g[ok] == "B", strata, freq[ok])
    e = mantel(np.repeat(r[ok, 0], freq[ok]), np.repeat(g[ok] == "B", freq[ok]), np.repeat(strata, freq[ok]))
    assert (m.chi2, m.p_value, m.smd, m.n_focal, m.n_reference) == (e.chi2, e.p_value, e.smd, e.n_focal, e.n_reference)
    assert m.sd == pytest.approx(e.sd, rel=1e-14)


def test_a_pooled_fit_started_from_another_groupings_gives_the_same_results_in_fewer_steps(sim):
    """item_dif analyses a scale's groupings one after the other, each pooled fit started from the one
    before (``start``): the same maximum to Newton's stopping rule (steps below 1e-9), in fewer steps."""
    resp, groups, items, cold = sim
    other = np.where(np.arange(len(groups)) % 2 == 0, "even", "odd")  # another grouping of the same persons
    first = dif_analysis(resp, other, item_names=items, min_category_n=1)
    warm = dif_analysis(resp, groups, item_names=items, min_category_n=1, start=first.pooled_fit)
    assert warm.pooled_fit.iterations < cold.pooled_fit.iterations
    np.testing.assert_allclose(warm.pooled_fit.thresholds, cold.pooled_fit.thresholds, atol=1e-8)
    assert warm.lr["lr_chi2"].iloc[0] == pytest.approx(cold.lr["lr_chi2"].iloc[0], abs=1e-6)
    for column in ("dif_contrast_logits", "wald_z", "mantel_chi2"):
        np.testing.assert_allclose(warm.items[column], cold.items[column], atol=1e-6, err_msg=column)
    assert warm.items["flagged"].equals(cold.items["flagged"])
