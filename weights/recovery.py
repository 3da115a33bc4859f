"""Replicate study of the growth estimators (all respondents with overlap, matched) on simulated
schools with known growth: interval coverage and false-positive rate.

A school's fall respondents have true scaled scores ~ Normal(mu, 20) and are measured with error (SE 8
points); 85% of them answer again in spring, at their fall true score + the school's growth + an
individual change ~ Normal(0, 5), measured again; arrivals replace the leavers. Weights vary by
respondent (lognormal, CV ~ 0.3) and are the same in both terms. The truth a school's interval must
cover is its growth; a school with growth 0 flagged significant is a false positive. Used by
tests/weights/test_growth_recovery.py (small, seeded) and ``benchmarks/growth_recovery.py`` (large).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from weights.estimates import overlap_difference, paired_difference

TRUE_SD, MEASUREMENT_SE, INDIVIDUAL_SD, RETURN_SHARE = 20.0, 8.0, 5.0, 0.85


def simulate_school(rng: np.random.Generator, n: int, growth: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    true_fall = rng.normal(250, TRUE_SD, n)
    w = rng.lognormal(0, 0.3, n)
    stays = rng.random(n) < RETURN_SHARE
    n_new = n - int(stays.sum())
    true_spring = np.concatenate([true_fall[stays] + growth + rng.normal(0, INDIVIDUAL_SD, stays.sum()),
                                  rng.normal(250 + growth, TRUE_SD, n_new)])
    keys_spring = np.concatenate([np.flatnonzero(stays), n + np.arange(n_new)])
    w_spring = np.concatenate([w[stays], rng.lognormal(0, 0.3, n_new)])
    fall = pd.DataFrame({"key": np.arange(n), "y": true_fall + rng.normal(0, MEASUREMENT_SE, n), "w": w})
    spring = pd.DataFrame({"key": keys_spring, "w": w_spring,
                           "y": true_spring + rng.normal(0, MEASUREMENT_SE, len(keys_spring))})
    return fall, spring


def estimate(fall: pd.DataFrame, spring: pd.DataFrame) -> dict:
    both = fall.merge(spring, on="key", suffixes=("_f", "_s"))
    matched = paired_difference(both["y_f"], both["y_s"], (both["w_f"] + both["w_s"]) / 2)
    return {"all": overlap_difference(fall, spring), "matched": {**matched, "difference": matched["mean_diff"]}}


def study(n_schools: int, seed: int, sizes=(12, 60), zero_share: float = 0.5) -> pd.DataFrame:
    """One row per simulated school x design: truth, estimate, CI, covered, significant."""
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(n_schools):
        n = int(rng.integers(sizes[0], sizes[1] + 1))
        growth = 0.0 if rng.random() < zero_share else float(rng.normal(5, 4))
        for design, est in estimate(*simulate_school(rng, n, growth)).items():
            rows.append({"school": s, "n": n, "growth": growth, "design": design, "estimate": est["difference"],
                         "se": est["se"], "df": est["df"], "covered": est["ci_low"] <= growth <= est["ci_high"],
                         "significant": est["p_value"] < 0.05,
                         "significant_normal": abs(est["difference"]) > 1.96 * est["se"]})
    return pd.DataFrame(rows)


def summary(results: pd.DataFrame) -> pd.DataFrame:
    zero = results[results["growth"] == 0.0]
    return pd.DataFrame({
        "coverage": results.groupby("design")["covered"].mean(),
        "false_positive_rate": zero.groupby("design")["significant"].mean(),
        "false_positive_rate_with_1.96": zero.groupby("design")["significant_normal"].mean(),
        "power": results[results["growth"].abs() >= 5].groupby("design")["significant"].mean(),
        "schools": results.groupby("design")["school"].nunique(),
    })
