"""Mantel's (1963) chi-square for one polytomous item and two groups, the standardized mean difference
(SMD, Dorans & Schmitt 1991) and the ETS classification of polytomous DIF (Zwick, Thayer & Mazzeo 1997).

Input, one entry per person who answered the item: the item score ``y (n,)``, ``focal (n,)`` bool (True =
focal group, False = reference group) and ``stratum (n,)`` integer codes of the matching variable. The
caller (:mod:`.dif`) matches on the answered-items pattern x total score: under the Rasch model the
total score is sufficient for theta, so within a stratum the two groups' item scores have the same
distribution unless the item functions differently (Holland & Thayer 1988; Zwick 1990); persons who
answered different items are never in one stratum because their totals are not on the same footing.

Per stratum ``k`` (``n_k`` persons, ``nF_k`` focal, ``nR_k`` reference, ``S_k`` = sum of scores,
``Q_k`` = sum of squared scores, ``F_k`` = the focal group's sum), under no DIF (hypergeometric sampling):

    E(F_k) = nF_k S_k / n_k,   Var(F_k) = nF_k nR_k (n_k Q_k - S_k^2) / (n_k^2 (n_k - 1))

and Mantel's statistic is ``(sum_k F_k - E F_k)^2 / sum_k Var F_k``, chi-square with 1 df, without a
continuity correction. Strata with one person, or one group only, add 0 to both sums.

``freq (n,)``, optional: how many persons each entry stands for (identical persons given once, as
:mod:`.dif` does). Every sum above is a sum of integers, exact in floating point either way, so the
statistic is the same to the bit as with the persons repeated.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = ["ETS_SIGNIFICANCE", "MantelResult", "ets_class", "mantel"]

ETS_SMALL, ETS_LARGE = 0.17, 0.25  # |SMD| / SD cut points of the ETS polytomous rules (Zwick et al. 1997)
ETS_SIGNIFICANCE = 0.05  # the Mantel test's level in those rules (per item, unadjusted, as ETS uses it)


@dataclass
class MantelResult:
    chi2: float
    p_value: float
    smd: float  # focal minus matched reference mean item score (positive = item easier for the focal group)
    sd: float  # item score standard deviation in the focal and reference groups combined (ddof = 1)
    n_focal: int
    n_reference: int

    @property
    def ets_class(self) -> str | None:
        return ets_class(self.p_value, self.smd, self.sd)


def _stratum_sums(y, focal, stratum, freq):
    _, s = np.unique(stratum, return_inverse=True)
    y = y.astype(float)
    wf = freq * focal
    wy = freq * y
    n, nf = np.bincount(s, weights=freq), np.bincount(s, weights=wf)
    return n, nf, np.bincount(s, weights=wy), np.bincount(s, weights=wy * y), np.bincount(s, weights=wy * focal)


def _smd(n, nf, total, focal_sum):
    """Dorans & Schmitt's SMD with focal-group weights: sum_k nF_k (mean_Fk - mean_Rk) / sum_k nF_k over
    the strata holding both groups (a stratum without reference persons has no comparison)."""
    nr = n - nf
    both = (nf > 0) & (nr > 0)
    if not both.any():
        return float("nan")
    mean_f = focal_sum[both] / nf[both]
    mean_r = (total[both] - focal_sum[both]) / nr[both]
    return float(np.sum(nf[both] * (mean_f - mean_r)) / nf[both].sum())


def mantel(y, focal, stratum, freq=None) -> MantelResult:
    """Mantel's chi-square, its p-value and the SMD for one item; see the module doc for the formulas."""
    y, focal, stratum = np.asarray(y), np.asarray(focal, bool), np.asarray(stratum)
    freq = np.ones(y.shape) if freq is None else np.asarray(freq, dtype=float)
    n, nf, total, squares, focal_sum = _stratum_sums(y, focal, stratum, freq)
    ok = n >= 2
    expected = nf[ok] * total[ok] / n[ok]
    var = nf[ok] * (n[ok] - nf[ok]) * (n[ok] * squares[ok] - total[ok] ** 2) / (n[ok] ** 2 * (n[ok] - 1))
    v = var.sum()
    chi2 = float((focal_sum[ok].sum() - expected.sum()) ** 2 / v) if v > 0 else float("nan")
    p = float(stats.chi2.sf(chi2, 1)) if np.isfinite(chi2) else float("nan")
    return MantelResult(chi2=chi2, p_value=p, smd=_smd(n, nf, total, focal_sum), sd=_sd(y, freq),
                        n_focal=int(nf.sum()), n_reference=int((n - nf).sum()))


def _sd(y, freq) -> float:
    """Standard deviation (ddof = 1) of the persons' scores, each entry counted ``freq`` times."""
    total = freq.sum()
    if total < 2:
        return float("nan")
    mean = (freq * y).sum() / total
    return float(np.sqrt((freq * (y - mean) ** 2).sum() / (total - 1)))


def ets_class(p_value: float, smd: float, sd: float) -> str | None:
    """ETS polytomous DIF class (Zwick, Thayer & Mazzeo 1997; Zwick 2012, ETS RR-12-08), there written
    AA/BB/CC: A if the Mantel test is not significant at .05 or |SMD|/SD <= .17; B if significant and
    .17 < |SMD|/SD <= .25; C if significant and |SMD|/SD > .25. SD is the item's standard deviation in
    the focal and reference groups combined. None when a statistic is missing."""
    if not (np.isfinite(p_value) and np.isfinite(smd) and np.isfinite(sd) and sd > 0):
        return None
    size = abs(smd) / sd
    if p_value >= ETS_SIGNIFICANCE or size <= ETS_SMALL:
        return "A"
    return "B" if size <= ETS_LARGE else "C"
