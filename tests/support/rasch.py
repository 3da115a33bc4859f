from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

FIXTURES = Path(__file__).resolve().parents[1] / "scoring_jobs" / "rasch" / "fixtures"


def load_wide(name: str) -> tuple[np.ndarray, list[str], np.ndarray]:
    """(responses int -1 = missing, item names, ids) of a fixture CSV."""
    d = pd.read_csv(FIXTURES / name)
    items = list(d.columns[1:])
    return d[items].fillna(-1).to_numpy().astype(int), items, d.iloc[:, 0].to_numpy()


def load_reference(name: str) -> pd.DataFrame:
    return pd.read_csv(FIXTURES / name)
