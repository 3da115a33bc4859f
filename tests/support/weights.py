"""Fixture and stored R outputs for tests/weights (made by weights/reference/rake_reference.R)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

FIXTURES = Path(__file__).resolve().parents[1] / "weights" / "fixtures"
SAMPLE = FIXTURES / "sample.csv"
MARGINS = FIXTURES / "margins.csv"


def sample() -> pd.DataFrame:
    return pd.read_csv(SAMPLE)


def margins() -> pd.DataFrame:
    return pd.read_csv(MARGINS)


def reference(name: str) -> pd.DataFrame:
    return pd.read_csv(FIXTURES / f"r_{name}.csv", dtype={"category": str})


def max_rel(a, b) -> float:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a / b - 1)))


def sample_with_r_weights() -> pd.DataFrame:
    """The sample with R's tightly converged raked weights as ``w`` and a 0/1 top-two-categories column."""
    df = sample()
    df["w"] = reference("rake")["weight_tight"].to_numpy()
    df["top2"] = np.where(df["item"].isna(), np.nan, (df["item"] >= 3).astype(float))
    return df
