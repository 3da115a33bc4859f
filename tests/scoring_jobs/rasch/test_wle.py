"""Person estimates: WLE against a direct root of Warm's equation, extremes, MLE, anchored scoring."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import brentq

from scoring_jobs.rasch import score
from scoring_jobs.rasch.anchored import RaschDataError, score_responses
from scoring_jobs.rasch.params import log_eps_from_thresholds
from scoring_jobs.rasch.wle import distinct_moments, estimate_theta, moments

THR = np.array([[-1.0, 0.2, 1.1], [-0.4, 0.9, np.nan], [0.5, np.nan, np.nan], [-1.5, -0.2, 0.6]])
N_STEPS = np.array([3, 2, 1, 3])


def _warm_direct(raw: float, items: list[int]) -> float:
    """Warm's equation written out per item: r - sum E + sum mu3 / (2 sum Var) = 0, solved by brentq."""

    def f(t):
        e = v = m3 = 0.0
        for i in items:
            steps = THR[i, : N_STEPS[i]]
            w = np.exp([x * t - steps[:x].sum() for x in range(N_STEPS[i] + 1)])
            p = w / w.sum()
            x = np.arange(p.size)
            mu = (p * x).sum()
            e += mu
            v += (p * (x - mu) ** 2).sum()
            m3 += (p * (x - mu) ** 3).sum()
        return raw - e + m3 / (2 * v)

    return brentq(f, -30, 30, xtol=1e-13)


@pytest.mark.parametrize("items", [[0, 1, 2, 3], [0, 2], [1, 3]])
def test_wle_matches_direct_solution_including_extremes(items):
    log_eps = log_eps_from_thresholds(THR, N_STEPS)
    mask = np.zeros(4, bool)
    mask[items] = True
    top = int(N_STEPS[items].sum())
    raws = np.arange(top + 1)
    theta, se = estimate_theta(raws, np.tile(mask, (raws.size, 1)), log_eps)
    assert np.all(np.isfinite(theta)) and np.all(np.isfinite(se))
    for r, t in zip(raws, theta, strict=True):
        assert t == pytest.approx(_warm_direct(float(r), items), abs=1e-8)
    assert np.all(np.diff(theta) > 0)


def test_mle_extreme_adjustment_and_nonextreme():
    log_eps = log_eps_from_thresholds(THR, N_STEPS)
    mask = np.ones((3, 4), bool)
    theta, _ = estimate_theta(np.array([0, 4, 9]), mask, log_eps, method="mle")
    adj, _ = estimate_theta(np.array([0.3, 4, 8.7]), mask, log_eps, method="mle", extreme_adjust=0.0)
    np.testing.assert_allclose(theta, adj, atol=1e-9)


def test_score_api_and_unscorable_category():
    resp = np.array([[0, 0, 0, 0], [3, 2, 1, 3], [1, np.nan, 1, 2], [np.nan] * 4])
    p = score(resp, THR, N_STEPS)
    assert np.isfinite(p.theta[:3]).all() and np.isnan(p.theta[3])
    assert p.extreme.tolist()[:2] == [True, True]
    assert p.n_answered.tolist() == [4, 4, 3, 0]
    with pytest.raises(RaschDataError) as err:
        score(np.array([[0, 3, 0, 0]]), THR, N_STEPS)
    assert err.value.item == 1 and err.value.row == 0


def test_anchored_displacement_detects_shifted_item():
    rng = np.random.default_rng(8)
    from scoring_jobs.rasch.simulate import simulate_responses

    true = np.array([[-1.0, 0.0, 1.0]] * 6)
    shifted = true.copy()
    shifted[2] += 0.5  # item 2 is harder in the new data than its anchored values
    resp = simulate_responses(rng.normal(0, 1, 5000), shifted, rng)
    _, items = score_responses(resp, true, np.full(6, 3))
    assert items["displacement"].iloc[2] > 0.3
    assert np.abs(np.delete(items["displacement"].to_numpy(), 2)).max() < 0.2


def test_score_infers_range_with_unused_bottom_category():
    thr = np.array([[np.nan, -1.0], [-0.5, 0.5]])
    p = score(np.array([[1.0, 2.0], [2.0, 1.0], [1.0, 0.0]]), thr)
    assert p.theta[0] == pytest.approx(p.theta[1])
    assert p.extreme.tolist() == [False, False, True]  # 1 is the lowest possible score on item 0
    with pytest.raises(RaschDataError):
        score(np.array([[0.0, 1.0]]), thr)


def test_scoring_in_batches_gives_every_person_the_same_estimate_bit_for_bit():
    """score_responses scores BATCH_PERSONS at a time (memory set by a batch): the persons are the same
    bit for bit whatever the batch size, the item statistics to the last bits of their sums, and a bad
    category is reported at its row in the whole data."""
    from dataclasses import fields

    from scoring_jobs.rasch.simulate import simulate_responses

    rng = np.random.default_rng(12)
    resp = simulate_responses(rng.normal(0, 1.3, 5003), THR, rng, missing=0.1)
    whole, items_whole = score_responses(resp, THR, N_STEPS, batch=10_000)
    parts, items_parts = score_responses(resp, THR, N_STEPS, batch=777)
    for f in fields(whole):
        np.testing.assert_array_equal(getattr(parts, f.name), getattr(whole, f.name), err_msg=f.name)
    np.testing.assert_allclose(items_parts.to_numpy(float), items_whole.to_numpy(float), rtol=1e-12, atol=1e-12)
    bad = resp.copy()
    bad[4000, 2] = 3  # item 3 has one step
    with pytest.raises(RaschDataError) as err:
        score_responses(bad, THR, N_STEPS, batch=777)
    assert (err.value.item, err.value.row) == (2, 4000)


def test_distinct_moments_are_the_row_by_row_moments_to_the_bit():
    """Computed once per distinct measure and broadcast: the same values as row by row, zero on the
    unanswered items (repeated measures, as WLE gives, and distinct ones)."""
    log_eps = log_eps_from_thresholds(THR, N_STEPS)
    rng = np.random.default_rng(3)
    theta = np.concatenate([rng.choice(rng.normal(0, 2, 40), 3000), rng.normal(0, 2, 500)])
    masks = rng.random((theta.size, 4)) > 0.2
    for got, want in zip(distinct_moments(theta, log_eps, masks), moments(theta, log_eps, masks), strict=True):
        assert np.array_equal(got, want)
