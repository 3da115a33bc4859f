"""Raking against R survey's rake() and calibrate(bounds) (stored outputs), invariants, and errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from support.weights import margins, max_rel, reference, sample

import leap
from leap.errors import LeapError
from weights import kish_design_effect, kish_effective_n, load_margins, rake, raking

N = 3_200_000


def test_rake_with_base_weights_equals_r():
    res = rake(sample(), margins(), base_weights="base_weight")
    assert max_rel(res.weights, reference("rake")["weight_tight"]) < 1e-8


def test_rake_with_unit_base_weights_equals_r():
    res = rake(sample(), margins())
    assert max_rel(res.weights, reference("rake")["weight_unit_base"]) < 1e-8


def test_rake_reproduces_r_default_control_cycle_for_cycle():
    """R's default control (epsilon = 1 absolute, maxit = 10) is tolerance = 1 / sum(base weights)."""
    df = sample()
    res = rake(df, margins(), base_weights="base_weight", tolerance=1 / df["base_weight"].sum(), max_iter=10)
    assert max_rel(res.weights, reference("rake")["weight_default"]) < 1e-12


@pytest.mark.parametrize("upper", [3, 4])
def test_trim_upper_equals_r_calibrate_bounds(upper):
    res = rake(sample(), margins(), base_weights="base_weight", trim_upper=upper)
    assert max_rel(res.weights, reference("trim")[f"weight_upper_{upper}"]) < 1e-8
    assert res.diagnostics.n_at_bounds > 0


def test_trim_both_bounds_respected_and_margins_met():
    df = sample()
    res = rake(df, margins(), base_weights="base_weight", trim_lower=0.3, trim_upper=3)
    w, mean = res.weights.to_numpy(), N / len(df)
    assert w.min() >= 0.3 * mean * (1 - 1e-12) and w.max() <= 3 * mean * (1 + 1e-12)
    assert np.isclose(w.min(), 0.3 * mean) and np.isclose(w.max(), 3 * mean)
    assert res.diagnostics.max_margin_relative_error < 1e-9
    assert w.sum() == pytest.approx(N, rel=1e-12)


def test_trim_both_bounds_satisfy_optimality_conditions():
    """Bounded raking minimises sum d (g log g - g + 1) subject to the margins and lo <= g <= hi, g = w / d.
    Its unique solution is characterised (KKT) by: margins met; log g additive in the level effects,
    log g_i = x_i' lambda, for units strictly inside the bounds; x_i' lambda >= log hi_i for units at the
    upper bound and <= log lo_i at the lower. Check those directly with lambda fitted on the free units."""
    df, m = sample(), margins()
    d, mean = df["base_weight"].to_numpy(), N / len(df)
    res = rake(df, m, base_weights="base_weight", trim_lower=0.3, trim_upper=3)
    w = res.weights.to_numpy()
    at_lo, at_hi = np.isclose(w, 0.3 * mean, rtol=1e-9), np.isclose(w, 3 * mean, rtol=1e-9)
    free = ~(at_lo | at_hi)
    assert at_lo.sum() > 0 and at_hi.sum() > 0
    x = pd.get_dummies(df[["region", "grade_band", "urbanicity"]]).astype(float).to_numpy()
    lam = np.linalg.lstsq(x[free], np.log(w[free] / d[free]), rcond=None)[0]
    fitted = x @ lam
    assert np.abs(fitted[free] - np.log(w[free] / d[free])).max() < 1e-9
    assert (fitted[at_hi] >= np.log(3 * mean / d[at_hi]) - 1e-9).all()
    assert (fitted[at_lo] <= np.log(0.3 * mean / d[at_lo]) + 1e-9).all()
    assert res.diagnostics.max_margin_relative_error < 1e-9


def test_diagnostics_margins_and_kish():
    df = sample()
    res = rake(df, margins(), base_weights="base_weight")
    diag, w = res.diagnostics, res.weights.to_numpy()
    assert diag.converged and diag.iterations > 1 and diag.n == len(df)
    assert np.allclose(diag.margins["achieved"], diag.margins["target"], rtol=1e-9)
    assert list(diag.margins["sample_n"].groupby(diag.margins["variable"]).sum()) == [len(df)] * 3
    assert diag.design_effect == pytest.approx(len(w) * (w**2).sum() / w.sum() ** 2, rel=1e-12)
    assert diag.design_effect == pytest.approx(1 + (w.std() / w.mean()) ** 2, rel=1e-12)
    assert diag.effective_n == pytest.approx(len(w) / diag.design_effect, rel=1e-12)
    assert kish_design_effect(np.ones(5)) == 1 and kish_effective_n([1, 1, 2, 2]) == pytest.approx(36 / 10)
    keys = {"iterations", "design_effect", "effective_n", "max_margin_error", "margins"}
    assert set(diag.to_dict()) >= keys


def test_levels_compared_as_text_and_weights_aligned_with_index():
    df = sample().set_index("respondent_id")
    res = rake(df, margins(), base_weights="base_weight")
    assert res.weights.index.equals(df.index)
    assert max_rel(res.weights, reference("rake")["weight_tight"]) < 1e-8


def test_load_margins_filters_instrument():
    path = Path(leap.__file__).parent / "instrument_data" / "population_margins.csv"
    teacher = load_margins(path, instrument="teacher")
    pd.testing.assert_frame_equal(teacher, load_margins(margins()))
    assert load_margins(path, instrument="student").groupby("variable")["total"].sum().nunique() == 1
    with pytest.raises(LeapError, match="several instruments"):
        load_margins(path)
    with pytest.raises(LeapError, match="no margins for instrument 'parent'"):
        load_margins(path, instrument="parent")


@pytest.mark.parametrize(("change", "message"), [
    (lambda s, m: (s.assign(region=s["region"].replace("west", "pacific")), m),
     "sample level region=pacific"),
    (lambda s, m: (s[s["urbanicity"] != "town"], m), "margin level urbanicity=town has no respondents"),
    (lambda s, m: (s.drop(columns="grade_band"), m), "lacks raking variable.*grade_band"),
    (lambda s, m: (s.assign(base_weight=s["base_weight"].where(s.index != 5, 0)), m),
     "base weight base_weight is missing or not positive for 1"),
    (lambda s, m: (s, m.assign(total=m["total"].where(m["level"] != "west", 1))),
     "disagree on the population"),
    (lambda s, m: (s.assign(region=s["region"].where(s.index != 3)), m), "region is missing for 1"),
    (lambda s, m: (s.iloc[:0], m), "no rows"),
])
def test_input_errors_name_the_problem(change, message):
    s, m = change(sample(), margins())
    with pytest.raises(LeapError, match=message):
        rake(s, m, base_weights="base_weight")


def test_nonconvergence_and_infeasible_trimming_raise(monkeypatch):
    with pytest.raises(LeapError, match="did not converge in 2 iterations"):
        rake(sample(), margins(), base_weights="base_weight", max_iter=2)
    with pytest.raises(LeapError, match=r"margin region=midwest \(total 760,000\) cannot be met by its 60 "):
        rake(sample(), margins(), base_weights="base_weight", trim_lower=0.9, trim_upper=1.1)
    monkeypatch.setattr(raking, "_line_search", lambda *args: None)  # as when no Newton step makes progress
    with pytest.raises(LeapError, match="cannot be met together with the margins"):
        rake(sample(), margins(), base_weights="base_weight", trim_lower=0.3, trim_upper=3)
    with pytest.raises(LeapError, match="trim_upper must be greater than 1"):
        rake(sample(), margins(), trim_upper=0.8)
