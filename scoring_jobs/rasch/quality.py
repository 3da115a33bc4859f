"""Measurement quality of one calibration: the statistics behind ``quality.json`` and ``report.html``.

:func:`assess` gathers, for a :class:`.api.Calibration` and the responses it was calibrated on:

* **summary** (Winsteps Table 3.1): for persons (non-extreme scores) and items, the mean and SD of the
  measures, the model RMSE ``sqrt(mean SE^2)``, the true SD ``sqrt(SD^2 - RMSE^2)``, the separation
  ``G = true SD / RMSE``, the reliability ``G^2 / (1 + G^2)`` and the strata ``(4G + 1) / 3``; and the
  **targeting** ``mean person measure - mean item location`` over every scored person (0 = the test is
  centred on the persons; positive = the persons find it easy);
* **items**: location, infit/outfit MNSQ and ZSTD (``Calibration.item_fit``), the point-measure correlation
  observed and expected (:func:`.fit.point_measure_correlation`) and flags: MNSQ outside 0.5-1.5
  (Linacre's "productive for measurement" range; above 1.5 = noise, below 0.5 = redundancy) or a
  point-measure correlation at or below 0;
* **categories** (Winsteps Table 3.2): per item and category the count (``Calibration.categories``), its
  share, the average measure of the persons who chose it against the model's expectation of that average,
  the category outfit (mean squared standardized residual of its responses) and the Andrich threshold into
  it (absolute, and relative to the item location); ordered = thresholds and average measures increase;
* **information**: the test information and CSEM curve (:mod:`.information`), also at the cut scores;
* **dimensionality and local dependence** (:mod:`.dimensionality`) and, when cut scores are given,
  **classification accuracy and consistency** (:mod:`.classification`).

Category and residual statistics use the persons with a non-extreme raw score at their WLE measure (as
the item fit statistics of :func:`.api.calibrate` do); the point-measure correlations use every scored
person, as Winsteps does (on Liking for Science they agree with Winsteps' PTMEASURE within 0.013).
Responses in a category only extreme scorers used are treated as missing, as for the person measures.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .anchored import unscorable_as_missing
from .classification import LevelCuts, classification_accuracy
from .dimensionality import LocalDependence, local_dependence
from .fit import point_measure_correlation, separation_reliability
from .information import category_probabilities, information_curve, total_information
from .io import as_responses
from .params import log_eps_from_thresholds
from .wle import distinct_moments

__all__ = ["MNSQ_RANGE", "Quality", "assess", "logit_range"]

MNSQ_RANGE = (0.5, 1.5)  # Linacre: productive for measurement
MIN_PERSONS = 10  # fewer non-extreme persons: no residual statistics
# Above this many persons the item, category and residual statistics are computed on a seeded random
# sample of them: they are means and correlations, whose sampling error at 100,000 persons (~0.003 in a
# correlation) is far below what the flags distinguish, and a national calibration has ~500,000 per scale.
MAX_PERSONS = 100_000


@dataclass
class Quality:
    """Everything :mod:`.report` shows; :meth:`to_dict` is ``quality.json``."""

    item_names: list[str]
    thresholds: np.ndarray
    n_steps: np.ndarray
    location: np.ndarray
    theta: np.ndarray  # (n_scored,) WLE measures of every person who answered something
    summary: dict
    items: pd.DataFrame
    categories: pd.DataFrame
    information: pd.DataFrame
    local: LocalDependence | None
    cuts: LevelCuts | None
    classification: dict | None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        out = {"summary": self.summary, "items": _records(self.items), "categories": _records(self.categories)}
        out.update(self.local.to_dict(self.item_names) if self.local is not None else
                   {"dimensionality": None, "local_dependence": None})
        out["classification"] = self.classification
        out["information"] = {"curve": _records(self.information), "at_cuts": self.information_at_cuts()}
        out["notes"] = self.notes
        return out

    def information_at_cuts(self) -> list[dict]:
        if self.cuts is None:
            return []
        info = total_information(np.asarray(self.cuts.cuts), self.thresholds, self.n_steps)
        return [{"level": n, "cut_logit": c, "information": float(i), "csem": float(1 / np.sqrt(i))}
                for n, c, i in zip(self.cuts.names[1:], self.cuts.cuts, info, strict=True)]


def _records(df: pd.DataFrame) -> list[dict]:
    return df.astype(object).where(df.notna(), None).to_dict(orient="records")


def logit_range(theta: np.ndarray, thresholds: np.ndarray, cuts: LevelCuts | None = None) -> tuple[float, float]:
    """The span the displays share: persons, finite thresholds and cuts, widened to whole half-logits."""
    values = [np.asarray(theta, float).ravel(), np.asarray(thresholds, float).ravel()]
    if cuts is not None:
        values.append(np.asarray(cuts.cuts))
    v = np.concatenate(values)
    v = v[np.isfinite(v)]
    lo, hi = (float(v.min()), float(v.max())) if v.size else (-3.0, 3.0)
    return np.floor(min(lo, -1.0) * 2 - 1) / 2, np.ceil(max(hi, 1.0) * 2 + 1) / 2


def measure_summary(measure: np.ndarray, se: np.ndarray) -> dict:
    """Winsteps Table 3.1 for one facet: n, mean, SD, model RMSE, true SD, separation, reliability, strata."""
    ok = np.isfinite(measure) & np.isfinite(se)
    m, s = measure[ok], se[ok]
    if m.size < 2:
        return {"n": int(m.size)}
    sd, rmse = float(m.std()), float(np.sqrt(np.mean(s * s)))
    true_sd = float(np.sqrt(max(sd * sd - rmse * rmse, 0.0)))
    g = true_sd / rmse if rmse > 0 else float("nan")
    return {"n": int(m.size), "mean": float(m.mean()), "sd": sd, "model_rmse": rmse, "true_sd": true_sd,
            "separation": g, "reliability": separation_reliability(m, s), "strata": (4 * g + 1) / 3}


def assess(cal, responses, cuts: LevelCuts | None = None, n_sim: int = 50, seed: int = 0) -> Quality:
    """Measurement quality of ``cal`` (a :class:`.api.Calibration`) on ``responses`` ``(n_persons, n_items)``
    — the array it was calibrated on, persons in the same order. ``cuts``: logit cut scores for the
    classification statistics; ``n_sim``: parallel-analysis draws (0 = rules of thumb only); seeded."""
    resp, _ = unscorable_as_missing(as_responses(responses), cal.thresholds, cal.n_steps)
    p = cal.persons
    if resp.shape != (p.theta.size, len(cal.item_names)):
        raise ValueError(f"responses {resp.shape} do not match the calibration ({p.theta.size} persons, "
                         f"{len(cal.item_names)} items)")
    scored = np.isfinite(p.theta)
    keep = scored & ~p.extreme
    log_eps = log_eps_from_thresholds(cal.thresholds, cal.n_steps)
    notes = []
    local = None
    everyone, sc, kp = (_sample(m, seed) for m in (np.ones(scored.size, bool), scored, keep))
    if scored.sum() > MAX_PERSONS:
        notes.append(f"item, category and residual statistics on a random {MAX_PERSONS:,} of the "
                     f"{int(scored.sum()):,} scored persons (seed {seed})")
    if keep.sum() >= MIN_PERSONS and len(cal.item_names) >= 2:
        local = local_dependence(resp[everyone], cal.thresholds, cal.n_steps, n_sim=n_sim, seed=seed,
                                 persons=(p.theta[everyone], p.extreme[everyone]))
    else:
        notes.append(f"dimensionality and Q3 need at least {MIN_PERSONS} persons with a non-extreme score and "
                     "two items: not computed")
    lo, hi = logit_range(p.theta, cal.thresholds, cuts)
    return Quality(
        item_names=list(cal.item_names), thresholds=cal.thresholds, n_steps=cal.n_steps, location=cal.location,
        theta=p.theta[scored], summary=_summary(cal, keep, scored),
        items=_item_table(cal, resp[sc], p.theta[sc], log_eps),
        categories=category_structure(cal, resp[kp], p.theta[kp], log_eps),
        information=information_curve(cal.thresholds, cal.n_steps, lo, hi, points=int((hi - lo) * 10) + 1),
        local=local, cuts=cuts, notes=notes,
        classification=None if cuts is None else classification_accuracy(p.theta, p.se, cuts),
    )


def _sample(mask: np.ndarray, seed: int) -> np.ndarray:
    """Indices of the persons in ``mask``; a seeded random :data:`MAX_PERSONS` of them (in order) when more."""
    idx = np.flatnonzero(mask)
    if idx.size > MAX_PERSONS:
        idx = np.sort(np.random.default_rng(seed).choice(idx, MAX_PERSONS, replace=False))
    return idx


def _summary(cal, keep: np.ndarray, scored: np.ndarray) -> dict:
    p = cal.persons
    targeting = float(np.mean(p.theta[scored]) - np.mean(cal.location)) if scored.any() else None
    return {
        "model": cal.model, "n_items": len(cal.item_names), "n_persons": int(p.theta.size),
        "n_persons_scored": int(scored.sum()), "n_persons_extreme": int((scored & p.extreme).sum()),
        "persons": measure_summary(p.theta[keep], p.se[keep]),
        "items": measure_summary(cal.location, cal.location_se),
        "targeting": targeting,
        "person_mean_all": float(np.mean(p.theta[scored])) if scored.any() else None,
        "warnings": list(cal.warnings),
    }


def _item_table(cal, resp: np.ndarray, theta: np.ndarray, log_eps: np.ndarray) -> pd.DataFrame:
    observed = resp >= 0
    mean, var, _, _ = distinct_moments(theta, log_eps, observed)
    obs, exp = point_measure_correlation(resp, theta, mean, var, observed)
    t = cal.item_fit.copy()
    t["ptmeasure"], t["ptmeasure_expected"] = obs, exp
    lo, hi = MNSQ_RANGE
    msq = t[["infit_msq", "outfit_msq"]]
    t["underfit"] = (msq > hi).any(axis=1)
    t["overfit"] = (msq < lo).any(axis=1) & ~t["underfit"]
    t["negative_ptmeasure"] = ~(t["ptmeasure"] > 0)
    t["flagged"] = t["underfit"] | t["overfit"] | t["negative_ptmeasure"]
    return t


def category_structure(cal, resp: np.ndarray, theta: np.ndarray, log_eps: np.ndarray) -> pd.DataFrame:
    """Table 3.2 per item × category (see the module docstring); ``resp``/``theta`` non-extreme persons."""
    u, inverse = np.unique(theta, return_inverse=True)  # a few thousand distinct measures (distinct_moments)
    prob = category_probabilities(u, log_eps)[inverse.ravel()]  # (n, items, categories)
    observed = resp >= 0
    mean, var, _, _ = distinct_moments(theta, log_eps, observed)
    with np.errstate(divide="ignore", invalid="ignore"):
        z2 = np.where(observed & (var > 0), (resp - mean) ** 2 / var, np.nan)
    cats = cal.categories.copy()
    rows = [_category_row(cal, i, x, resp[:, i], theta, prob[:, i, x], z2[:, i])
            for i in range(len(cal.item_names)) for x in range(int(cal.n_steps[i]) + 1)]
    extra = pd.DataFrame(rows, columns=["avg_measure", "expected_avg_measure", "outfit_msq", "andrich_threshold",
                                        "andrich_threshold_relative"])
    out = pd.concat([cats.reset_index(drop=True), extra], axis=1)
    out["share"] = out["count"] / out.groupby("item", sort=False)["count"].transform("sum")
    ordered = out.groupby("item", sort=False)["avg_measure"].transform(_increasing)
    out["averages_ordered"] = ordered.astype(bool)
    out["ordered"] = out["averages_ordered"] & ~out["disordered_thresholds"]
    return out


def _category_row(cal, i: int, x: int, col: np.ndarray, theta: np.ndarray, p_x: np.ndarray, z2: np.ndarray):
    chose, answered = col == x, col >= 0
    avg = float(theta[chose].mean()) if chose.any() else np.nan
    # the model's average measure of those choosing x: persons weighted by their probability of choosing it
    w = np.where(answered, p_x, 0.0)
    expected = float((w * theta).sum() / w.sum()) if w.sum() > 0 else np.nan
    outfit = float(np.nanmean(z2[chose])) if chose.any() else np.nan
    thr = float(cal.thresholds[i, x - 1]) if x >= 1 else np.nan
    rel = thr - float(cal.location[i]) if np.isfinite(thr) else np.nan
    return avg, expected, outfit, thr if np.isfinite(thr) else np.nan, rel


def _increasing(values: pd.Series) -> bool:
    v = values.to_numpy(float)
    v = v[np.isfinite(v)]
    return bool(np.all(np.diff(v) > 0))
