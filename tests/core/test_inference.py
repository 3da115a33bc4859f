"""The significance rules (leap.inference) against scipy's own implementations."""

from __future__ import annotations

import numpy as np
from scipy import stats

from leap.inference import bh_qvalues, t_critical, t_two_sided_p


def test_benjamini_hochberg_equals_scipy():
    rng = np.random.default_rng(3)
    p = np.concatenate([rng.uniform(size=40), rng.uniform(0, 0.01, size=10)])
    np.testing.assert_allclose(bh_qvalues(p), stats.false_discovery_control(p, method="bh"), rtol=1e-12)


def test_missing_p_values_are_not_tests():
    q = bh_qvalues([0.01, np.nan, 0.04])
    np.testing.assert_allclose(q[[0, 2]], stats.false_discovery_control([0.01, 0.04], method="bh"))
    assert np.isnan(q[1])


def test_t_uses_the_degrees_of_freedom():
    assert abs(t_two_sided_p(2.0, 9) - 2 * stats.t.sf(2.0, 9)) < 1e-15
    assert t_two_sided_p(2.0, 9) > 0.07 > 0.05 > 2 * stats.norm.sf(2.0)  # what 1.96 would have said
    assert abs(t_critical(26) - stats.t.ppf(0.975, 26)) < 1e-12
    assert np.isnan(t_two_sided_p(2.0, 0)) and np.isnan(t_critical(0))


def test_columns_give_scipy_stats_bits():
    """The SQL functions get columns (a chunk of rows a call): the same bits as scipy.stats' t, value by
    value, for integer and Welch (fractional) df, huge and infinite df, infinite and missing t."""
    rng = np.random.default_rng(8)
    df = np.concatenate([rng.integers(-1, 3000, 5000).astype(float), rng.uniform(0.5, 200, 5000), [1e9, np.inf, np.nan]])
    t = rng.standard_t(4, df.size) * 2
    t[:5], t[5:10] = np.inf, np.nan
    ok = np.isfinite(t) & (df >= 1)
    p = np.where(ok, 2 * stats.t.sf(np.abs(t), np.where(ok, df, 1.0)), np.nan)
    p[np.isinf(t) & (df >= 1)] = 0.0
    np.testing.assert_array_equal(t_two_sided_p(t, df), p)
    np.testing.assert_array_equal(t_critical(df), np.where(df >= 1, stats.t.ppf(0.975, np.maximum(df, 1.0)), np.nan))
    np.testing.assert_array_equal(t_critical(df, 0.1), np.where(df >= 1, stats.t.ppf(0.95, np.maximum(df, 1.0)), np.nan))
