"""Measurement-quality statistics: dimensionality and Q3 on simulated data with a known truth, Rudner's
classification accuracy against simulated true levels, information against the engine's SEs, point-measure
correlations against Winsteps, category structure and summary by hand."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm
from support.rasch import FIXTURES, load_wide

from scoring_jobs.rasch import calibrate, score
from scoring_jobs.rasch.anchored import score_responses, unscorable_as_missing
from scoring_jobs.rasch.classification import LevelCuts, classification_accuracy
from scoring_jobs.rasch.dimensionality import (
    EIGEN_RULE,
    _MeasureTable,
    draw_responses,
    local_dependence,
    pairwise_correlations,
)
from scoring_jobs.rasch.information import information_curve, total_information
from scoring_jobs.rasch.params import log_eps_from_thresholds
from scoring_jobs.rasch.quality import assess
from scoring_jobs.rasch.simulate import simulate_responses

CUTS = LevelCuts(("emerging", "moderate_low", "moderate_high", "high"), (-0.6, 0.2, 1.0))


def items(rng, n_items: int, n_steps: int = 3) -> np.ndarray:
    """Ordered step thresholds, centred so the mean item location is 0 (the engine's origin): simulated
    true measures and estimates are then on the same scale."""
    thr = np.sort(rng.normal(0, 1, (n_items, n_steps)), axis=1)
    return thr - thr.mean()


def two_dimensional(rng, n: int, thr: np.ndarray, r: float = 0.3) -> np.ndarray:
    """First half of the items measures one ability, second half another, correlated ``r``."""
    ab = rng.multivariate_normal([0, 0], [[1, r], [r, 1]], n)
    half = thr.shape[0] // 2
    return np.hstack([simulate_responses(ab[:, 0], thr[:half], rng), simulate_responses(ab[:, 1], thr[half:], rng)])


# --- dimensionality and local dependence ---------------------------------------------------------


def test_first_contrast_under_the_rule_for_unidimensional_data_and_flagged_for_two_dimensions():
    """500 persons × 20 four-category items. Unidimensional PCM data: the first contrast stays below 2.0 in
    every one of 8 replicates (measured 1.37-1.48). Two clusters of 10 items with abilities correlated 0.3:
    flagged in every replicate (measured 4.42-4.61), and the loadings split the items by cluster."""
    rng = np.random.default_rng(20)
    null, alt = [], []
    for _ in range(8):
        thr = items(rng, 20)
        y = simulate_responses(rng.normal(0, 1, 500), thr, rng)
        cal = calibrate(y)
        null.append(local_dependence(y, cal.thresholds, cal.n_steps, n_sim=0).eigenvalue)
    for _ in range(3):
        thr = items(rng, 20)
        y = two_dimensional(rng, 500, thr)
        cal = calibrate(y)
        ld = local_dependence(y, cal.thresholds, cal.n_steps, n_sim=0)
        alt.append(ld.eigenvalue)
        signs = np.sign(ld.loadings)
        assert len(set(signs[:10])) == 1 and len(set(signs[10:])) == 1 and signs[0] != signs[10]
    assert max(null) < EIGEN_RULE < min(alt)
    assert 1.2 < np.mean(null) < 1.7 and min(alt) > 3.5


def test_parallel_analysis_gives_the_critical_values_and_flags():
    """The simulated 95th percentiles for 500 persons × 20 items sit below the rules of thumb (measured 1.46
    for the eigenvalue, 0.16 for Q3*), so the rules decide: critical value = max(rule, simulation); the
    unidimensional data pass both checks."""
    rng = np.random.default_rng(21)
    thr = items(rng, 20)
    y = simulate_responses(rng.normal(0, 1, 500), thr, rng)
    cal = calibrate(y)
    ld = local_dependence(y, cal.thresholds, cal.n_steps, n_sim=30, seed=3)
    d = ld.to_dict(cal.item_names)
    dim, q3 = d["dimensionality"], d["local_dependence"]
    assert dim["n_simulations"] == 30 and 1.3 < dim["simulated_p95"] < EIGEN_RULE
    assert dim["critical_value"] == EIGEN_RULE and not dim["flagged"]
    assert 0.05 < q3["simulated_p95"] < 0.2 and not q3["flagged"]
    # the draws reproduce the data's own statistic: the observed eigenvalue lies within the simulated spread
    assert ld.sim_eigenvalues.min() - 0.1 < ld.eigenvalue < ld.sim_eigenvalues.max() + 0.1
    again = local_dependence(y, cal.thresholds, cal.n_steps, n_sim=30, seed=3)
    np.testing.assert_array_equal(again.sim_eigenvalues, ld.sim_eigenvalues)  # seeded: re-runs agree


def test_planted_locally_dependent_pair_has_the_largest_q3():
    """Item 11 copies item 4's response for 40% of the persons (e.g. a shared stem): that pair has the
    largest Q3 and Q3* is flagged (measured Q3 0.24, Q3* 0.31); without the copy Q3* stays under 0.2
    (measured 0.11)."""
    rng = np.random.default_rng(22)
    thr = items(rng, 15)
    y = simulate_responses(rng.normal(0, 1, 800), thr, rng)
    cal = calibrate(y)
    clean = local_dependence(y, cal.thresholds, cal.n_steps, n_sim=0)
    copy = rng.random(800) < 0.4
    y[copy, 11] = y[copy, 4]
    cal = calibrate(y)
    ld = local_dependence(y, cal.thresholds, cal.n_steps, n_sim=0)
    assert ld.q3_max_pair == (4, 11)
    assert ld.q3_star > 0.3 and ld.to_dict(cal.item_names)["local_dependence"]["flagged"]
    assert clean.q3_star < 0.2 and not clean.to_dict(cal.item_names)["local_dependence"]["flagged"]
    # the mean Q3 is negative, about -1/(L-1), because each measure is estimated from the same responses
    assert -2 / 14 < clean.q3_mean < 0


def test_a_calibrations_own_measures_give_the_statistics_scoring_the_rows_gives():
    """assess hands the calibration's person measures to local_dependence instead of scoring the rows again:
    the same statistics to the bit, on data with missing responses and a top category only extreme scorers
    used on one item (treated as missing for the measures, as the calibration did)."""
    rng = np.random.default_rng(24)
    y = simulate_responses(rng.normal(0, 1, 600), items(rng, 8), rng)
    y[rng.random(y.shape) < 0.08] = -1
    y[:, 2] = np.minimum(y[:, 2], 2)
    y[np.argmax(np.where(y >= 0, y, 0).sum(axis=1)), 2] = 3  # the top scorer alone uses category 3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cal = calibrate(y, n_steps=np.full(8, 3))
    resp, _ = unscorable_as_missing(y, cal.thresholds, cal.n_steps)
    given = local_dependence(resp, cal.thresholds, cal.n_steps, n_sim=5, seed=1,
                             persons=(cal.persons.theta, cal.persons.extreme))
    scored = local_dependence(resp, cal.thresholds, cal.n_steps, n_sim=5, seed=1)
    for field in ("n_persons", "eigenvalue", "q3_mean", "q3_max", "q3_max_pair"):
        assert getattr(given, field) == getattr(scored, field)
    for field in ("loadings", "q3", "sim_eigenvalues", "sim_q3_star"):
        np.testing.assert_array_equal(getattr(given, field), getattr(scored, field))


def test_pairwise_correlations_match_pandas_pairwise_deletion():
    rng = np.random.default_rng(23)
    v = rng.normal(size=(200, 6)) + rng.normal(size=(200, 1))
    v[rng.random(v.shape) < 0.2] = np.nan
    np.testing.assert_allclose(pairwise_correlations(v), pd.DataFrame(v).corr().to_numpy(), atol=1e-12)
    complete = rng.normal(size=(50, 4))
    np.testing.assert_allclose(pairwise_correlations(complete), np.corrcoef(complete.T), atol=1e-12)


def test_draws_keep_structural_zeros_and_missing_cells():
    # item 0: bottom category unused (not estimable step); item 1: interior category 2 unused (inf step)
    thr = np.array([[np.nan, 0.5, np.nan], [-0.5, np.inf, 0.8], [0.0, np.nan, np.nan]])
    n_steps = np.array([2, 3, 1])
    theta = np.random.default_rng(0).normal(0, 2, 3000)
    observed = np.random.default_rng(1).random((3000, 3)) > 0.1
    y = draw_responses(theta, log_eps_from_thresholds(thr, n_steps), observed, np.random.default_rng(2))
    assert np.all((y == -1) == ~observed)
    assert set(np.unique(y[:, 0])) == {-1, 1, 2} and set(np.unique(y[:, 1])) == {-1, 0, 1, 3}
    assert set(np.unique(y[:, 2])) == {-1, 0, 1}


def test_the_simulations_measure_table_gives_the_bits_scoring_gives():
    """The parallel analysis looks each simulated person's WLE up by answered-items pattern and raw score
    (solved once per pattern); scoring each simulated data set gives the same bits and extreme flags,
    structural zeros and missing cells included."""
    thr = np.array([[np.nan, 0.5, np.nan], [-0.5, np.inf, 0.8], [0.0, np.nan, np.nan], [-1.0, 0.1, 1.2]])
    n_steps = np.array([2, 3, 1, 3])
    log_eps = log_eps_from_thresholds(thr, n_steps)
    rng = np.random.default_rng(5)
    observed = rng.random((4000, 4)) > 0.15
    observed[:, 3] |= ~observed.any(axis=1)  # every person answered something
    table = _MeasureTable(observed, log_eps)
    for _ in range(3):
        y = draw_responses(rng.normal(0, 1.5, 4000), log_eps, observed, rng)
        theta, extreme = table(y)
        persons, _ = score_responses(y, thr, n_steps)
        assert np.array_equal(theta, persons.theta) and np.array_equal(extreme, persons.extreme)
        assert extreme.any() and not extreme.all()


# --- classification accuracy and consistency -------------------------------------------------------


@pytest.mark.parametrize("n_items", [8, 15])
def test_rudner_accuracy_and_consistency_match_simulated_true_levels(n_items):
    """4,000 persons with known true measures. Observed accuracy = share whose estimated level is their true
    level; observed consistency = share with the same level on a second, independent set of responses.
    Rudner's predictions are within 0.025 (measured, predicted vs observed: 8 items accuracy 0.692 vs 0.686,
    consistency 0.590 vs 0.600; 15 items 0.758 vs 0.760 and 0.666 vs 0.666), each cut's accuracy within
    0.02 (measured at most 0.006 apart)."""
    rng = np.random.default_rng(7 + n_items)
    thr = items(rng, n_items)
    theta = rng.normal(0, 1, 4000)
    cal = calibrate(simulate_responses(theta, thr, rng))
    p = cal.persons
    r = classification_accuracy(p.theta, p.se, CUTS)
    observed_accuracy = np.mean(CUTS.level_index(p.theta) == CUTS.level_index(theta))
    retest = score(simulate_responses(theta, thr, rng), cal.thresholds, cal.n_steps)
    observed_consistency = np.mean(CUTS.level_index(p.theta) == CUTS.level_index(retest.theta))
    assert r["accuracy"] == pytest.approx(observed_accuracy, abs=0.025)
    assert r["consistency"] == pytest.approx(observed_consistency, abs=0.025)
    for cut in r["per_cut"]:
        c = cut["cut_logit"]
        assert cut["accuracy"] == pytest.approx(np.mean((p.theta >= c) == (theta >= c)), abs=0.02)
    assert np.sum(r["expected_confusion"]) == pytest.approx(1.0)
    assert np.trace(r["expected_confusion"]) == pytest.approx(r["accuracy"])


def test_rudner_by_hand():
    """One person on a cut with SE 1: true level above or below with probability 1/2 each; a measure equal
    to the cut is in the higher level. A second person 1 SE above: P(above) = Phi(1)."""
    cuts = LevelCuts(("low", "high"), (0.0,))
    r = classification_accuracy(np.array([0.0, 1.0, np.nan]), np.array([1.0, 1.0, np.nan]), cuts)
    assert r["n_persons"] == 2 and r["assigned_shares"] == [0.0, 1.0]
    assert r["accuracy"] == pytest.approx((0.5 + norm.cdf(1)) / 2)
    assert r["consistency"] == pytest.approx((0.5 + norm.cdf(1) ** 2 + norm.cdf(-1) ** 2) / 2)
    fp = r["per_cut"][0]["false_positive"]
    assert fp == pytest.approx((0.5 + norm.cdf(-1)) / 2) and r["per_cut"][0]["false_negative"] == 0


def test_level_cuts_from_mapping_and_from_the_pipeline_files():
    cuts = LevelCuts.from_mapping({"version": "v1", "high": 1.2, "emerging": None, "moderate_low": -0.4})
    assert cuts.names == ("emerging", "moderate_low", "high") and cuts.cuts == (-0.4, 1.2)
    assert LevelCuts.from_mapping({"pass": 0.5}).names == ("below pass", "pass")
    scaled = LevelCuts.from_scaled({"version": "LFS-1-LF", "moderate_low": 240, "moderate_high": 250, "high": 270},
                                   {"intercept": 250.0, "slope": 10.0})
    assert scaled.names[0] == "emerging" and scaled.cuts == pytest.approx((-1.0, 0.0, 2.0))
    assert scaled.version == "LFS-1-LF"
    np.testing.assert_array_equal(scaled.level_index([-1.0001, -1.0, 0.5, 2.0]), [0, 1, 2, 3])
    with pytest.raises(ValueError, match="not logits"):
        LevelCuts.from_mapping({"moderate_low": 240, "high": 270})
    with pytest.raises(ValueError, match="numbers"):
        LevelCuts.from_mapping({"high": "1.0"})


# --- information, point-measure correlation, categories, summary ---------------------------------


@pytest.mark.parametrize("method", ["wle", "mle"])
def test_information_is_the_inverse_square_of_the_engine_se(method):
    resp, names, _ = load_wide("sim_pcm.csv")
    complete = resp[(resp >= 0).all(axis=1)]
    cal = calibrate(resp, item_names=names)
    p = score(complete, cal.thresholds, cal.n_steps, method=method)
    info = total_information(p.theta, cal.thresholds, cal.n_steps)
    np.testing.assert_allclose(1 / np.sqrt(info), p.se, rtol=1e-10)
    curve = information_curve(cal.thresholds, cal.n_steps, -4, 4, 81)
    np.testing.assert_allclose(curve["csem"], 1 / np.sqrt(curve["information"]))
    assert curve["information"].idxmax() not in (0, 80)  # a peak inside the range of the items


def test_point_measure_correlations_agree_with_winsteps_liking_for_science():
    """Observed PTMEASURE within 0.02 of Winsteps (measured 0.013: JMLE vs WLE measures), expected within
    0.03 (measured 0.019); the two misfitting items a05 and a23 have observed far below expected."""
    q, cal = _lfs()
    winsteps = pd.read_csv(FIXTURES / "lfs_sfif.csv")
    np.testing.assert_allclose(q.items["ptmeasure"], winsteps["PTME"], atol=0.02)
    np.testing.assert_allclose(q.items["ptmeasure_expected"], winsteps["PTME.E"], atol=0.03)
    flagged = set(q.items.loc[q.items["flagged"], "item"])
    assert {"a05", "a23"} <= flagged and bool(q.items.set_index("item").loc["a23", "negative_ptmeasure"])


def test_point_measure_expectation_on_model_data():
    """On data that fit, observed and expected agree within 0.05 per item. The observed value runs a little
    higher (measured +0.024 on average with 12 items): the item's own response is part of the measure it is
    correlated with, which the expectation at fixed measures leaves out (Winsteps shows the same)."""
    rng = np.random.default_rng(24)
    y = simulate_responses(rng.normal(0, 1, 3000), items(rng, 12), rng, missing=0.05)
    q = assess(calibrate(y), y, n_sim=0)
    diff = q.items["ptmeasure"] - q.items["ptmeasure_expected"]
    assert 0 < diff.mean() < 0.04 and diff.abs().max() < 0.05
    assert not q.items["flagged"].any()


def test_category_structure_by_hand():
    q, cal = _lfs()
    cats = q.categories
    pd.testing.assert_frame_equal(cats[cal.categories.columns], cal.categories)  # counts etc. reused, not redone
    resp, names, _ = load_wide("lfs_wide.csv")
    p = cal.persons
    keep = ~p.extreme
    a01 = cats[cats["item"] == "a01"].set_index("category")
    for x in range(3):
        assert a01.loc[x, "avg_measure"] == pytest.approx(p.theta[keep & (resp[:, 0] == x)].mean())
    assert a01.loc[1, "andrich_threshold"] == cal.thresholds[0, 0]
    assert a01.loc[2, "andrich_threshold_relative"] == pytest.approx(cal.thresholds[0, 1] - cal.location[0])
    assert a01["share"].sum() == pytest.approx(1.0)
    a12 = cats[cats["item"] == "a12"].set_index("category")
    assert bool(a12.loc[0, "unused"]) and np.isnan(a12.loc[0, "avg_measure"])
    disordered = set(cats.loc[cats["disordered_thresholds"], "item"])
    assert disordered and not (set(cats.loc[cats["ordered"], "item"]) & disordered)


def test_summary_matches_the_calibration_and_the_winsteps_definitions():
    q, cal = _lfs()
    s = q.summary
    persons = s["persons"]
    assert persons["reliability"] == pytest.approx(cal.reliability)
    g = persons["separation"]
    assert g**2 / (1 + g**2) == pytest.approx(persons["reliability"])  # G = true SD / RMSE
    assert persons["n"] == int((~cal.persons.extreme).sum())
    assert s["targeting"] == pytest.approx(cal.persons.theta.mean())  # items centred at 0
    assert s["items"]["mean"] == pytest.approx(0.0, abs=1e-12)


def test_too_few_persons_for_residual_statistics_is_a_note_not_an_error():
    y = np.array([[0, 1], [1, 0], [1, 1], [0, 0]])
    cal = calibrate(y)
    q = assess(cal, y, cuts=LevelCuts(("low", "high"), (0.0,)))
    assert q.local is None and "not computed" in q.notes[0]
    d = q.to_dict()
    assert d["dimensionality"] is None and d["classification"]["n_persons"] == 4


_CACHE: dict = {}


def _lfs():
    if "lfs" not in _CACHE:
        resp, names, _ = load_wide("lfs_wide.csv")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cal = calibrate(resp, item_names=names)
        _CACHE["lfs"] = (assess(cal, resp, n_sim=0), cal)
    return _CACHE["lfs"]
