"""Reporting scale: a fixed linear map from logits to the 200–300 scale, and performance levels.

The constants come from one reference calibration and are stored as data (``ScaleTransform.to_dict``);
they are never re-derived per administration. Cut scores are versioned data too (``CutScores``).
Shapes: ``theta``/``se`` ``(n,)``; returned arrays have the same shape.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

__all__ = ["ScaleTransform", "CutScores", "classify", "LEVELS"]

LEVELS = ("emerging", "moderate_low", "moderate_high", "high")


@dataclass(frozen=True)
class ScaleTransform:
    """``scaled = intercept + slope * theta``; ``scaled_se = slope * se``."""

    intercept: float
    slope: float
    reference: str = ""  # which calibration fixed the constants (e.g. a run id or date)

    @classmethod
    def from_reference(
        cls, theta: np.ndarray, reference: str, low: float = 200.0, high: float = 300.0, z: float = 2.5,
        weights: np.ndarray | None = None,
    ) -> ScaleTransform:
        """Map the reference mean ± ``z`` SD of ``theta`` onto ``[low, high]`` (done once, then stored)."""
        t = np.asarray(theta, float)
        ok = np.isfinite(t)
        w = None if weights is None else np.asarray(weights, float)[ok]
        mu = np.average(t[ok], weights=w)
        sd = np.sqrt(np.average((t[ok] - mu) ** 2, weights=w))
        if not sd > 0:
            raise ValueError("reference thetas have no spread")
        slope = (high - low) / (2 * z * sd)
        return cls(intercept=(low + high) / 2 - slope * mu, slope=float(slope), reference=reference)

    def apply(self, theta, se=None, clip: tuple[float, float] | None = None):
        """Scaled measures (and scaled SEs if ``se`` given); ``clip`` bounds the scaled values."""
        scaled = self.intercept + self.slope * np.asarray(theta, float)
        if clip is not None:
            scaled = np.clip(scaled, *clip)
        if se is None:
            return scaled
        return scaled, self.slope * np.asarray(se, float)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ScaleTransform:
        missing = {"intercept", "slope"} - set(d)
        if missing:
            raise ValueError(f"scale constants lack key(s): {sorted(missing)}")
        return cls(float(d["intercept"]), float(d["slope"]), str(d.get("reference", "")))


@dataclass(frozen=True)
class CutScores:
    """Lower bounds (on the reporting scale) of moderate_low, moderate_high and high, with a version."""

    version: str
    moderate_low: float
    moderate_high: float
    high: float

    def __post_init__(self):
        if not self.moderate_low < self.moderate_high < self.high:
            raise ValueError("cut scores must increase: moderate_low < moderate_high < high")

    @classmethod
    def from_dict(cls, d: dict) -> CutScores:
        need = {"version", "moderate_low", "moderate_high", "high"}
        missing = need - set(d)
        if missing:
            raise ValueError(f"cut scores lack key(s): {sorted(missing)}")
        return cls(str(d["version"]), float(d["moderate_low"]), float(d["moderate_high"]), float(d["high"]))


def classify(scaled: np.ndarray, cuts: CutScores) -> np.ndarray:
    """Level label per scaled score (a score equal to a cut belongs to the higher level); '' for NaN."""
    s = np.asarray(scaled, float)
    idx = np.searchsorted([cuts.moderate_low, cuts.moderate_high, cuts.high], s, side="right")
    out = np.array(LEVELS, dtype=object)[idx]
    out[~np.isfinite(s)] = ""
    return out
