"""Classification accuracy and consistency of performance levels from measures and their SEs (Rudner).

Levels are intervals of the logit scale between increasing cut scores; a measure equal to a cut belongs
to the higher level (the rule of :func:`.scale.classify`). Rudner (2001, 2005): a person's true measure is
taken as ``N(theta_hat, SE^2)``, so the probability that the true level is ``k`` is

    ``P_k = Phi((c_{k+1} - theta_hat) / SE) - Phi((c_k - theta_hat) / SE)``   (``c_0 = -inf``, ``c_K = +inf``).

* **accuracy** = mean over persons of ``P_{assigned level}`` — how often the reported level is the true one;
* **consistency** = mean of ``sum_k P_k^2`` — how often two independent administrations give the same level
  (each draws its level from the same ``P``); **kappa** = ``(consistency - chance) / (1 - chance)`` with
  ``chance = sum_k (mean P_k)^2`` (the agreement of two independent draws from the level marginals);
* **per cut** ``c``: false positive = share of persons at or above ``c`` whose true measure is below
  (``mean [theta_hat >= c] Phi((c - theta_hat)/SE)``), false negative the reverse, accuracy = 1 - both.

Persons with no measure (nothing answered) are left out; extreme scores keep their WLE measure and SE.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr  # the normal CDF (scipy.stats.norm.cdf's), without importing scipy.stats

from .scale import LEVELS, CutScores, ScaleTransform

__all__ = ["LevelCuts", "classification_accuracy", "level_probabilities", "person_indices"]

MAX_ABS_LOGIT_CUT = 15.0  # a cut beyond this is almost surely on the 200-300 reporting scale


@dataclass(frozen=True)
class LevelCuts:
    """``names`` (lowest level first) and the increasing logit ``cuts``: ``cuts[k]`` is the lower bound of
    ``names[k + 1]``."""

    names: tuple[str, ...]
    cuts: tuple[float, ...]
    version: str = ""

    def __post_init__(self):
        if len(self.names) != len(self.cuts) + 1 or not self.cuts:
            raise ValueError("need one more level name than cut scores, and at least one cut")
        if not all(np.isfinite(self.cuts)) or np.any(np.diff(self.cuts) <= 0):
            raise ValueError(f"cut scores must be finite and increasing, got {list(self.cuts)}")
        if max(abs(c) for c in self.cuts) > MAX_ABS_LOGIT_CUT:
            raise ValueError(f"cut scores {list(self.cuts)} are not logits (|cut| > {MAX_ABS_LOGIT_CUT:g}); cuts on the "
                             "reporting scale need the scale constants (scale.json)")

    @classmethod
    def from_mapping(cls, d: dict) -> LevelCuts:
        """``{"level": logit cut, ...}``: each number is the lower bound of its level. An optional key with
        ``null`` names the lowest level (default ``below <first level>``); an optional ``"version"`` string."""
        d = dict(d)
        version = str(d.pop("version", ""))
        lowest = [k for k, v in d.items() if v is None]
        bad = [k for k, v in d.items() if v is not None and not isinstance(v, (int, float))]
        if bad or len(lowest) > 1:
            raise ValueError(f"cut scores must map level names to numbers (one may be null), bad: {bad or lowest}")
        cuts = sorted(((float(v), str(k)) for k, v in d.items() if v is not None))
        first = lowest[0] if lowest else f"below {cuts[0][1]}" if cuts else ""
        return cls((first, *(k for _, k in cuts)), tuple(c for c, _ in cuts), version)

    @classmethod
    def from_scaled(cls, cut_scores: dict, scale: dict) -> LevelCuts:
        """The pipeline's ``cut_scores.json`` (reporting-scale lower bounds of the levels after the first)
        and ``scale.json`` (``scaled = intercept + slope * theta``): cuts mapped back to logits."""
        cs, st = CutScores.from_dict(cut_scores), ScaleTransform.from_dict(scale)
        scaled = (cs.moderate_low, cs.moderate_high, cs.high)
        return cls(LEVELS, tuple((c - st.intercept) / st.slope for c in scaled), cs.version)

    def level_index(self, theta) -> np.ndarray:
        """Level number ``0..len(cuts)`` per measure; a measure equal to a cut is in the higher level."""
        return np.searchsorted(np.asarray(self.cuts), np.asarray(theta, float), side="right")

    def to_dict(self) -> dict:
        return {"version": self.version, "levels": list(self.names), "cuts_logit": list(self.cuts)}


def level_probabilities(measure: np.ndarray, se: np.ndarray, cuts) -> np.ndarray:
    """``(n, n_levels)``: probability that the true measure, ``N(measure, se^2)``, lies in each level.
    ``cuts``: the increasing cut values on the measure's metric (any linear metric: logits, or 200-300
    with the scaled SEs; the probabilities do not depend on which)."""
    c = np.asarray(cuts, float)
    below = ndtr((c[None, :] - measure[:, None]) / se[:, None])  # P(true < c_k)
    edges = np.hstack([np.zeros((measure.size, 1)), below, np.ones((measure.size, 1))])
    return np.diff(edges, axis=1)


def person_indices(measure, se, cuts) -> tuple[np.ndarray, np.ndarray]:
    """Each person's Rudner accuracy (``P`` of the level assigned) and consistency (``sum_k P_k^2``);
    NaN where the measure or SE is missing or the SE is not positive. ``cuts`` as for
    :func:`level_probabilities`."""
    t, s = np.asarray(measure, float), np.asarray(se, float)
    ok = np.isfinite(t) & np.isfinite(s) & (s > 0)
    accuracy, consistency = np.full(t.size, np.nan), np.full(t.size, np.nan)
    if ok.any():
        p = level_probabilities(t[ok], s[ok], cuts)
        assigned = np.searchsorted(np.asarray(cuts, float), t[ok], side="right")
        accuracy[ok] = p[np.arange(p.shape[0]), assigned]
        consistency[ok] = (p * p).sum(axis=1)
    return accuracy, consistency


def classification_accuracy(theta, se, cuts: LevelCuts) -> dict:
    """Rudner's accuracy, consistency, kappa, per-cut error rates and the expected confusion matrix
    (rows: assigned level, columns: true level; shares of all persons) — see the module docstring."""
    t, s = np.asarray(theta, float), np.asarray(se, float)
    ok = np.isfinite(t) & np.isfinite(s) & (s > 0)
    t, s = t[ok], s[ok]
    if t.size == 0:
        return {"n_persons": 0, "method": "Rudner (2001, 2005)", **cuts.to_dict()}
    p = level_probabilities(t, s, cuts.cuts)
    assigned = cuts.level_index(t)
    consistency = float((p * p).sum(axis=1).mean())
    chance = float((p.mean(axis=0) ** 2).sum())
    confusion = np.stack([p[assigned == k].sum(axis=0) for k in range(len(cuts.names))]) / t.size
    return {
        "method": "Rudner (2001, 2005): true measure ~ N(measure, SE^2)",
        "n_persons": int(t.size), **cuts.to_dict(),
        "accuracy": float(p[np.arange(t.size), assigned].mean()),
        "consistency": consistency,
        "kappa": (consistency - chance) / (1 - chance) if chance < 1 else None,
        "assigned_shares": [float(np.mean(assigned == k)) for k in range(len(cuts.names))],
        "per_cut": [_cut_errors(t, s, c, name) for c, name in zip(cuts.cuts, cuts.names[1:], strict=True)],
        "expected_confusion": confusion.tolist(),
    }


def _cut_errors(t: np.ndarray, s: np.ndarray, cut: float, name: str) -> dict:
    below = ndtr((cut - t) / s)  # P(true measure below the cut)
    above = t >= cut
    fp, fn = float(np.mean(above * below)), float(np.mean(~above * (1 - below)))
    return {"level": name, "cut_logit": cut, "false_positive": fp, "false_negative": fn,
            "accuracy": 1 - fp - fn, "consistency": float(np.mean(below**2 + (1 - below) ** 2))}
