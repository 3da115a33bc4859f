"""Weighted category proportions with Taylor-linearized standard errors, and differences between groups.

Matches R survey's ``svymean(~factor(item), design, na.rm = TRUE)`` for a design with weights only,
``svydesign(ids = ~1, weights = ~w)``, or with clusters, ``svydesign(ids = ~school_id, weights = ~w)``; the
weights are taken as given (no calibration adjustment). Each group of ``by`` is estimated as its own design
(the rows of the group only), which is what ``svymean`` on the group's subset gives.

Formulas, for one group and one category ``k``; sums over ``i`` run over the respondents of the group who
answered the item, with ``y_ik = 1`` when respondent ``i`` chose ``k``. Respondents who skipped the item
stay in the design with ``z = 0`` (R's ``na.rm = TRUE`` keeps them as zero-weight units), so ``n`` and ``C``
in the finite correction count *all* respondents (clusters) of the group, answered or not::

    W     = sum_i w_i                      p_k  = W_k / W,   W_k = sum_{i: y_ik = 1} w_i
    z_ik  = w_i * (y_ik - p_k) / W         (linearized values; sum_i z_ik = 0)

    weights only:  var(p_k) = n / (n - 1) * sum_i z_ik^2
                            = n / (n - 1) * ((1 - 2 p_k) * S_k + p_k^2 * S) / W^2,
                              S = sum_i w_i^2,  S_k = sum_{i: y_ik = 1} w_i^2,
                              n = respondents in the group (including those who skipped the item)
    clusters c:    var(p_k) = C / (C - 1) * sum_c (W_ck - p_k * W_c)^2 / W^2,
                              W_c = sum_{i in c} w_i,  W_ck = sum_{i in c, y_ik = 1} w_i,
                              C = clusters with a respondent in the group (answered or not)

    se(p_k) = sqrt(var(p_k));  NaN when n = 1 (or C = 1).  n/(n-1) and C/(C-1) are R's finite correction.

    Kish effective n of the group's respondents who answered:  n_effective = W^2 / S.

Difference of two independent groups ``a`` and ``b`` (separate samples, e.g. NextGen vs national)::

    difference = p_a - p_b,   se = sqrt(se_a^2 + se_b^2),   t = difference / se,
    df = C_a + C_b - 2 (the design degrees of freedom),   significant when P(|T_df| >= |t|) < 0.05

(R: ``svycontrast`` of ``svyby(~y, ~group, svydesign(ids = ~school_id, strata = ~group, weights = ~w))``
with ``df = degf(design)``; stratifying by group keeps each group's own C/(C-1). R's ``svyttest`` uses
one df fewer, its regression's residual df.)

All weights are first divided by their mean within the group: every estimate is invariant to the scale,
and squares of weights such as 1e-220 would underflow to 0. A category every (no) respondent chose
has p exactly 1 (0) and SE exactly 0.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from leap.errors import LeapError
from leap.inference import ALPHA, t_critical, t_two_sided_p

VALUE_COLUMNS = ("n", "n_category", "n_psu", "n_effective", "weight_total", "proportion", "se")


def weighted_proportions(data: pd.DataFrame, item: str, weight: str, *, by: str | list[str] | None = None,
                         cluster: str | None = None, categories=None) -> pd.DataFrame:
    """Weighted proportion of respondents in each category of ``item`` (per group of ``by``), with its SE.

    Returns one row per group × category: the ``by`` columns, ``category``, ``n`` (respondents in the group
    who answered; the group's other respondents count only in the finite correction, see the module doc),
    ``n_category`` (of them in the category), ``n_effective`` (Kish), ``weight_total`` (W),
    ``proportion`` (0..1) and ``se``. ``cluster`` names the primary sampling unit (e.g. ``school_id``);
    without it respondents are independent draws. ``categories`` lists categories to report even when no
    respondent of a group chose them (proportion 0, se 0); by default the categories present in ``data``.
    A top-box share ("at least half the time") is the proportion of a 0/1 column derived from the item.
    """
    keys = [by] if isinstance(by, str) else list(by or [])
    _check_columns(data, [item, weight, *keys] + ([cluster] if cluster else []))
    w = pd.to_numeric(data[weight], errors="coerce").to_numpy(dtype=float)
    if not (np.isfinite(w) & (w > 0)).all():
        raise LeapError(f"weight column {weight} has missing or non-positive values")
    answered = data[item].notna().to_numpy()
    cats = pd.Index(sorted(data.loc[answered, item].unique()) if categories is None else list(categories))
    frames = []
    groups = ([((), np.arange(len(data)))] if not keys
              else data.groupby(keys, sort=True, dropna=False).indices.items())
    for key, pos in groups:
        if not answered[pos].any():
            continue
        out = _group_estimates(data[item].iloc[pos], w[pos], _psu(data, cluster, pos), cats)
        for j, value in enumerate(key if isinstance(key, tuple) else (key,)):
            out.insert(j, keys[j], value)
        frames.append(out)
    if not frames:
        raise LeapError(f"no respondent answered {item}")
    return pd.concat(frames, ignore_index=True)


def compare_groups(estimates: pd.DataFrame, group: str, a, b, *, alpha: float = ALPHA) -> pd.DataFrame:
    """Difference ``a - b`` of two independent groups' proportions, from :func:`weighted_proportions`.

    ``group`` is one of the ``by`` columns; rows are matched on every other key column and ``category``.
    Returns the keys, ``proportion_a/_b``, ``se_a/_b``, ``n_a/_b``, ``n_psu_a/_b``, ``difference``, ``se``
    (``sqrt(se_a^2 + se_b^2)``), ``df`` (design degrees of freedom ``n_psu_a + n_psu_b - 2``, see
    :mod:`leap.inference`), ``t``, ``p_value`` and ``significant`` (``p_value < alpha``; False when the
    SE or df is undefined).
    """
    if group not in estimates.columns:
        raise LeapError(f"estimates have no column {group}")
    keys = [c for c in estimates.columns if c not in VALUE_COLUMNS and c != group]
    cols = [*keys, "proportion", "se", "n", "n_psu"]
    left = estimates.loc[estimates[group] == a, cols]
    right = estimates.loc[estimates[group] == b, cols]
    for value, part in ((a, left), (b, right)):
        if part.empty:
            raise LeapError(f"no estimates for {group}={value}")
    out = left.merge(right, on=keys, how="inner", suffixes=("_a", "_b"))
    out["difference"] = out["proportion_a"] - out["proportion_b"]
    out["se"] = np.sqrt(out["se_a"] ** 2 + out["se_b"] ** 2)
    out["df"] = out["n_psu_a"] + out["n_psu_b"] - 2
    with np.errstate(divide="ignore", invalid="ignore"):
        out["t"] = out["difference"] / out["se"]
    out["p_value"] = t_two_sided_p(out["t"].to_numpy(), out["df"].to_numpy())
    out["significant"] = (out["p_value"] < alpha) & np.isfinite(out["p_value"])
    return out


def _check_columns(data: pd.DataFrame, columns: list[str]) -> None:
    missing = [c for c in columns if c not in data.columns]
    if missing:
        raise LeapError(f"data lack column(s) {', '.join(missing)}")


def _psu(data: pd.DataFrame, cluster: str | None, pos: np.ndarray) -> np.ndarray:
    """Primary sampling unit of each row of the group: the respondent itself, or its cluster."""
    if cluster is None:
        return np.arange(len(pos))
    return pd.factorize(data[cluster].iloc[pos])[0]


def _group_estimates(values: pd.Series, w: np.ndarray, psu: np.ndarray, cats: pd.Index) -> pd.DataFrame:
    """Estimates for one group. Respondents who skipped the item stay in the design with z = 0 (R's na.rm)."""
    scale = w.mean()
    answered = values.notna().to_numpy()
    codes = cats.get_indexer(values[answered])
    if (codes < 0).any():
        bad = values[answered].iloc[int(np.argmax(codes < 0))]
        raise LeapError(f"{values.name} has value {bad!r} not in the categories {list(cats)}")
    w = w / w.mean()  # every estimate is invariant to the scale; squares of 1e-220 would underflow
    wa = w[answered]
    y = np.zeros((len(wa), len(cats)))
    y[np.arange(len(wa)), codes] = 1.0
    total = wa.sum()
    n_category = y.sum(axis=0)
    # exactly 1 (0) when every (no) respondent chose the category; else clamped against rounding
    p = np.where(n_category == len(wa), 1.0, np.where(n_category == 0, 0.0, np.clip(wa @ y / total, 0.0, 1.0)))
    z = np.zeros((len(w), len(cats)))
    z[answered] = wa[:, None] * (y - p) / total               # linearized values; 0 for skipped
    z = np.stack([np.bincount(psu, weights=z[:, k]) for k in range(len(cats))], axis=1)  # PSU totals
    m = len(z)
    z = z - z.mean(axis=0)                                     # exactly 0 in theory; R centres too
    var = (z * z).sum(axis=0) * m / (m - 1) if m > 1 else np.full(len(cats), np.nan)
    var = np.where((p == 0.0) | (p == 1.0), 0.0, var) if m > 1 else var  # all alike: no variance
    return pd.DataFrame({
        "category": cats, "n": len(wa), "n_category": n_category.astype(int), "n_psu": m,
        "n_effective": total**2 / (wa * wa).sum(), "weight_total": total * scale, "proportion": p,
        "se": np.sqrt(var),
    })


def weighted_mean(values, weights, cluster=None) -> dict:
    """Weighted mean of ``values`` with its Taylor-linearization SE (R ``svymean(~y, design)``).

    Without ``cluster`` respondents are the units (``svydesign(ids = ~1, weights = ~w)``):
    ``var = n/(n-1) * sum_i (w_i (y_i - mean))^2 / W^2`` and ``df = n - 1``; with it the clusters are
    (``ids = ~cluster``), summing ``w_i (y_i - mean)`` within each before squaring, ``df = C - 1``. The
    weights are divided by their mean first (the estimate is invariant to it; squares of tiny weights
    would underflow). Returns ``mean``, ``se``, ``n``, ``n_psu``, ``df``, ``sd`` (the weighted SD of y).
    """
    y, w = np.asarray(values, float), np.asarray(weights, float)
    if y.shape != w.shape or not len(y):
        raise LeapError("values and weights must be non-empty and of the same length")
    w = w / w.mean()
    total = w.sum()
    mean = float(w @ y / total)
    z = w * (y - mean) / total
    psu = np.arange(len(y)) if cluster is None else pd.factorize(np.asarray(cluster))[0]
    z = np.bincount(psu, weights=z)
    m = len(z)
    z = z - z.mean()
    se = float(np.sqrt((z * z).sum() * m / (m - 1))) if m > 1 else float("nan")
    sd = float(np.sqrt(w @ (y - mean) ** 2 / total))
    return {"mean": mean, "se": se, "n": len(y), "n_psu": m, "df": m - 1, "sd": sd}


def compare_means(a: dict, b: dict, *, alpha: float = ALPHA) -> dict:
    """``b - a`` of two independent estimates from :func:`weighted_mean` (e.g. a sample against the
    national one): ``se = sqrt(se_a^2 + se_b^2)``, ``df = df_a + df_b`` (= C_a + C_b - 2), t, p."""
    diff = b["mean"] - a["mean"]
    se = float(np.hypot(a["se"], b["se"]))
    df = a["df"] + b["df"]
    t = diff / se if se > 0 else float("nan")
    p = t_two_sided_p(t, df)
    return {"difference": diff, "se": se, "df": df, "t": t, "p_value": p, "significant": bool(p < alpha)}


def paired_difference(before, after, weights=None, *, alpha: float = ALPHA) -> dict:
    """Mean of the paired differences ``after - before`` (a matched fall-to-spring growth), with its SE
    (respondents as units, weighted when ``weights`` are given), ``df = n - 1``, t, p and the
    ``1 - alpha`` confidence interval on t. Equal weights give R's ``t.test(after, before, paired=TRUE)``.
    """
    d = np.asarray(after, float) - np.asarray(before, float)
    est = weighted_mean(d, np.ones_like(d) if weights is None else weights)
    t = est["mean"] / est["se"] if est["se"] > 0 else float("nan")
    half = t_critical(est["df"], alpha) * est["se"]
    return {"n": est["n"], "mean_diff": est["mean"], "se": est["se"], "df": est["df"], "t": t,
            "p_value": t_two_sided_p(t, est["df"]), "ci_low": est["mean"] - half, "ci_high": est["mean"] + half}


def overlap_difference(before: pd.DataFrame, after: pd.DataFrame, *, alpha: float = ALPHA) -> dict:
    """``mean(after) - mean(before)`` of two weighted samples that share units (a school's fall and spring
    respondents, most of them answering both), with the SE that counts their overlap.

    ``before``/``after``: columns ``key`` (the unit, e.g. respondent_key), ``y``, ``w``. Linearized over
    the union of the units, ``z_i = w_i (y_ai - mean_a) / W_a - w_i (y_bi - mean_b) / W_b`` (a term not
    answered contributes 0), ``var = m / (m - 1) * sum z_i^2`` = V_before + V_after - 2 Cov, ``df = m - 2``
    (m = units in either sample). The SQL of ``fct_school_growth`` computes the same.
    """
    parts = []
    for frame, sign in ((before, -1.0), (after, 1.0)):
        w = frame["w"].to_numpy(float)
        w = w / w.mean()
        y = frame["y"].to_numpy(float)
        mean = w @ y / w.sum()
        parts.append((mean, pd.Series(sign * w * (y - mean) / w.sum(), index=frame["key"].to_numpy())))
    z = parts[0][1].add(parts[1][1], fill_value=0.0).groupby(level=0).sum().to_numpy()
    m = len(z)
    diff = parts[1][0] - parts[0][0]
    se = float(np.sqrt(m / (m - 1) * np.sum(z * z))) if m > 2 else float("nan")
    df = m - 2
    t = diff / se if se > 0 else float("nan")
    half = t_critical(df, alpha) * se
    return {"difference": diff, "se": se, "df": df, "t": t, "p_value": t_two_sided_p(t, df),
            "ci_low": diff - half, "ci_high": diff + half}
