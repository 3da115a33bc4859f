"""The raking model reads its respondents group by group in Arrow batches (int_respondent_weights.py,
_groups): every weighting group must come out whole and once, in key order, whatever the batch size,
with its rows in respondent order."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

MODEL = Path(__file__).resolve().parents[2] / "dbt_project" / "models" / "intermediate" / "int_respondent_weights.py"


@pytest.fixture(scope="module")
def model():
    spec = importlib.util.spec_from_file_location("int_respondent_weights", MODEL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("batch_rows", [1, 7, 50, 10_000])
def test_groups_come_whole_once_and_in_order_across_batch_boundaries(model, batch_rows):
    rng = np.random.default_rng(5)
    n = 400
    frame = pd.DataFrame({
        "instrument": rng.choice(["student", "teacher"], n), "school_year": "2024-25",
        "term": rng.choice(["fall", "spring"], n), "sample": rng.choice(["national", "nextgen", "leap"], n, p=[.8, .15, .05]),
        "respondent_key": [f"r{i:04d}" for i in rng.permutation(n)], "external_weight": rng.uniform(1, 50, n),
        "region": rng.choice(["west", "south"], n), "grade_band": "middle", "urbanicity": "urban"})
    con = duckdb.connect()
    got = list(model._groups(con.from_df(frame), batch_rows=batch_rows))
    expected = frame.sort_values(model.GROUP + ["respondent_key"]).groupby(model.GROUP, sort=True)
    assert [k for k, _ in got] == [k for k, _ in expected]
    for (_, g), (_, e) in zip(got, expected, strict=True):
        assert g["respondent_key"].tolist() == e["respondent_key"].tolist()
        assert np.array_equal(g["external_weight"].to_numpy(), e["external_weight"].to_numpy())
