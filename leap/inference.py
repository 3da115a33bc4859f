"""Significance rules every estimate that reaches a school or partner follows: one definition.

- Student t on the design degrees of freedom, never 1.96 whatever the df: a comparison of two
  independent groups of schools has ``df = C_a + C_b - 2`` (schools as primary sampling units; R
  survey's ``degf`` of the design stratified by group), a school mean with respondents as units
  ``n - 1``, a paired (matched) growth ``n_pairs - 1``.
- The many tests of one report are accounted for with Benjamini-Hochberg q-values (the false
  discovery rate): a flag is raised when ``q < alpha``; the per-test p-value is reported beside it.

The warehouse calls the same functions from SQL (``t_two_sided_p``, ``t_critical``), registered on
every dbt connection by :mod:`dbt_project.functions`.
"""

from __future__ import annotations

import numpy as np

ALPHA = 0.05  # two-sided: "significant at the 95% level"


def t_two_sided_p(t, df):
    """P(|T| >= |t|) for Student's t with ``df`` degrees of freedom; NaN where df < 1 or t is NaN.

    ``scipy.special.stdtr`` is what ``scipy.stats.t.sf`` computes (``sf(x, df) = stdtr(df, -x)``, the same
    bits), without the distribution's argument checks: the warehouse calls this per chunk of 2,048 rows,
    where the checks cost more than the sums."""
    from scipy import special

    t, df = np.asarray(t, float), np.asarray(df, float)
    out = np.full(np.broadcast(t, df).shape, np.nan)
    ok = np.isfinite(t) & (df >= 1)
    out[ok] = 2.0 * special.stdtr(np.broadcast_to(df, out.shape)[ok], -np.abs(np.broadcast_to(t, out.shape)[ok]))
    inf = np.isinf(t) & (df >= 1)
    out[inf] = 0.0
    return out if out.shape else float(out)


def t_critical(df, alpha: float = ALPHA):
    """The two-sided critical value t_{1 - alpha/2, df}; NaN where df < 1.

    Computed once per distinct df (``scipy.special.stdtrit``, what ``scipy.stats.t.ppf`` computes, the
    same bits): the inverse costs ~0.3 us a value, and the df of a column are a few counts (n - 1)."""
    from scipy import special

    df = np.asarray(df, float)
    ok = df >= 1
    out = np.full(df.shape, np.nan)
    distinct, where = np.unique(df[ok], return_inverse=True)
    out[ok] = special.stdtrit(distinct, 1.0 - alpha / 2.0)[where]
    return out if out.shape else float(out)


def bh_qvalues(p) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values) of one family of tests; NaN p-values stay NaN
    and do not count as tests. q_(i) = min_{j >= i} m p_(j) / j, capped at 1."""
    p = np.asarray(p, float)
    q = np.full(p.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    if ok.size:
        order = ok[np.argsort(p[ok], kind="stable")]
        m = order.size
        ranked = p[order] * m / np.arange(1, m + 1)
        q[order] = np.minimum(np.minimum.accumulate(ranked[::-1])[::-1], 1.0)
    return q
