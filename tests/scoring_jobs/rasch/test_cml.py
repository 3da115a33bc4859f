"""CML calibration: derivatives, parameter recovery, weights, pinned values."""

from __future__ import annotations

import numpy as np
import pytest
from support.rasch import load_wide

from scoring_jobs.rasch.cml import _Objective, _pcm_design, _rsm_design, fit_cml
from scoring_jobs.rasch.params import item_locations
from scoring_jobs.rasch.patterns import group_patterns, item_category_counts
from scoring_jobs.rasch.simulate import simulate_responses


@pytest.mark.parametrize("model", ["pcm", "rsm"])
def test_gradient_and_hessian_match_finite_differences(model):
    resp, _, _ = load_wide("sim_rsm.csv")
    resp = resp[:300, :5]
    n_steps = resp.max(axis=0)
    counts = item_category_counts(resp, int(n_steps.max()) + 1)
    design = _rsm_design(counts, int(n_steps[0])) if model == "rsm" else _pcm_design(counts, n_steps)
    groups = group_patterns(resp)
    obj = _Objective(groups.masks, groups.score_counts(int(n_steps.sum()) + 1), counts, design)
    p = np.random.default_rng(0).normal(0, 0.5, design.A.shape[1])
    ll, g, H = obj.evaluate(p)
    h = 1e-5
    for j in range(p.size):
        e = np.zeros_like(p)
        e[j] = h
        lp, gp, _ = obj.evaluate(p + e, hessian=False)
        lm, gm, _ = obj.evaluate(p - e, hessian=False)
        assert (lp - lm) / (2 * h) == pytest.approx(g[j], rel=1e-6, abs=1e-6)
        np.testing.assert_allclose((gp - gm) / (2 * h), H[:, j], rtol=1e-5, atol=1e-5)


def test_pcm_parameter_recovery():
    """4000 persons, 8 items of 2-4 steps: every threshold within 4 SE and 0.25 logits of the truth."""
    rng = np.random.default_rng(11)
    true = np.array([[-1.0, 0.0, 1.0], [-0.5, 0.5, np.nan], [0.3, np.nan, np.nan], [-1.5, -0.5, 0.4],
                     [0.0, 0.8, 1.6], [-0.8, 0.2, np.nan], [0.6, -0.2, 1.2], [-0.3, np.nan, np.nan]])
    n_steps = (~np.isnan(true)).sum(axis=1)
    loc = item_locations(true, n_steps)
    true = true - loc.mean()
    resp = simulate_responses(rng.normal(0, 1.2, 4000), true, rng, missing=0.05)
    res = fit_cml(resp, "pcm")
    ok = ~np.isnan(true)
    err = np.abs(res.thresholds[ok] - true[ok])
    assert np.all(err < 4 * res.se[ok]) and err.max() < 0.25
    assert res.converged


def test_rsm_parameter_recovery():
    rng = np.random.default_rng(12)
    beta = np.linspace(-1, 1, 8)
    tau = np.array([-0.9, 0.0, 0.9])
    resp = simulate_responses(rng.normal(0, 1.0, 3000), beta[:, None] + tau[None, :], rng, missing=0.05)
    res = fit_cml(resp, "rsm")
    assert np.all(np.abs(res.location - beta) < 4 * res.location_se)
    assert np.all(np.abs(res.tau - tau) < 4 * res.tau_se)
    assert np.abs(res.tau - tau).max() < 0.1


def test_integer_weights_equal_replicated_rows():
    resp, _, _ = load_wide("sim_pcm.csv")
    resp = resp[:200]
    w = np.random.default_rng(5).integers(1, 4, resp.shape[0])
    weighted = fit_cml(resp, "pcm", weights=w.astype(float))
    replicated = fit_cml(np.repeat(resp, w, axis=0), "pcm")
    np.testing.assert_allclose(weighted.thresholds, replicated.thresholds, atol=1e-8)
    assert weighted.loglik == pytest.approx(replicated.loglik, rel=1e-10)


def test_origin_is_mean_item_location():
    resp, _, _ = load_wide("sim_pcm_mixed.csv")
    res = fit_cml(resp, "pcm")
    assert abs(res.location.mean()) < 1e-10
    np.testing.assert_allclose(res.location, item_locations(res.thresholds, res.n_steps), atol=1e-12)
    assert np.all(np.isfinite(res.location_se)) and np.all(res.location_se > 0)


def test_pinned_regression_values():
    resp, _, _ = load_wide("sim_pcm.csv")
    res = fit_cml(resp, "pcm")
    assert res.loglik == pytest.approx(-5898.217, abs=1e-3)
    assert res.iterations <= 10


def test_single_category_item_rejected():
    resp = np.array([[0, 1], [0, 0], [0, 1]])
    with pytest.raises(ValueError, match="item index 0 has fewer than two observed categories"):
        fit_cml(resp)


def test_interior_null_category_is_structural_zero():
    rng = np.random.default_rng(2)
    resp = simulate_responses(rng.normal(0, 1, 600), np.array([[-1.0, 0.0, 1.0]] * 5), rng)
    resp[resp[:, 0] == 2, 0] = 3  # category 2 of item 0 never used
    res = fit_cml(resp, "pcm")
    assert (0, 2) in res.null_categories
    assert np.isposinf(res.thresholds[0, 1]) and np.isfinite(res.thresholds[0, 2])
    assert np.isnan(res.se[0, 1])


@pytest.mark.parametrize("model", ["pcm", "rsm"])
def test_a_fit_started_at_a_related_estimate_reaches_the_same_maximum_in_fewer_steps(model):
    """DIF starts each group's fit at the pooled estimate: the same estimate as from 0 (to the stopping
    rule), in fewer Newton steps; a start that parametrizes other steps (a structural zero) is not used."""
    rng = np.random.default_rng(5)
    thr = np.array([[-1.0, 0.0, 1.0], [-0.5, 0.4, 1.2], [0.2, 0.8, 1.5], [-1.2, -0.3, 0.6], [0.0, 0.5, 1.0]])
    resp = simulate_responses(rng.normal(0, 1.0, 3000), thr, rng, missing=0.05)
    pooled = fit_cml(resp, model)
    group = resp[:1200]
    cold, warm = fit_cml(group, model), fit_cml(group, model, start=pooled)
    assert warm.converged and warm.iterations < cold.iterations
    np.testing.assert_allclose(warm.thresholds, cold.thresholds, rtol=0, atol=1e-9)
    np.testing.assert_allclose(warm.se, cold.se, rtol=1e-9)
    assert warm.loglik == pytest.approx(cold.loglik, rel=1e-12)
    if model == "pcm":  # nobody in this group chose item 0's top category: other free parameters
        zero = group.copy()
        zero[zero[:, 0] == 3, 0] = 2
        fresh, started = fit_cml(zero, model, n_steps=np.full(5, 3)), fit_cml(zero, model, n_steps=np.full(5, 3),
                                                                               start=pooled)
        assert started.design_steps != pooled.design_steps and started.iterations == fresh.iterations
        np.testing.assert_array_equal(started.thresholds, fresh.thresholds)


@pytest.mark.parametrize("model", ["pcm", "rsm"])
def test_the_last_newton_step_is_applied_without_evaluating_again(model, monkeypatch):
    """One evaluation of the likelihood per Newton step and one at the start, none after the step that met the
    stopping rule; the standard errors from the Hessian of the point before it are those of the estimate
    (a fresh evaluation there) to 1e-9 relative, and the gradient there is nil."""
    rng = np.random.default_rng(6)
    thr = np.array([[-1.0, 0.0, 1.0], [-0.5, 0.4, 1.2], [0.2, 0.8, 1.5], [-1.2, -0.3, 0.6], [0.0, 0.5, 1.0]])
    resp = simulate_responses(rng.normal(0, 1.0, 2000), thr, rng, missing=0.05)
    calls, objectives = [], []
    evaluate, init = _Objective.evaluate, _Objective.__init__

    def counting(self, p, hessian=True):
        calls.append(p.copy())
        return evaluate(self, p, hessian)

    def keep(self, *args):
        init(self, *args)
        objectives.append(self)

    monkeypatch.setattr(_Objective, "evaluate", counting)
    monkeypatch.setattr(_Objective, "__init__", keep)
    res = fit_cml(resp, model)
    assert res.converged and len(calls) == res.iterations  # the start, then one per step but the last
    _, g, H = evaluate(objectives[0], res.params)
    assert np.abs(g).max() < 1e-6
    fresh = np.sqrt(np.diag(np.linalg.inv(-H)))
    used = np.sqrt(np.diag(np.linalg.inv(-evaluate(objectives[0], calls[-1])[2])))
    np.testing.assert_allclose(used, fresh, rtol=1e-9)
