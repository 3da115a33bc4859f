"""Liking for Science (Wright & Masters 1982) against the Winsteps (JMLE) partial-credit output."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from support.rasch import FIXTURES

from scoring_jobs.rasch import NullCategoryWarning, calibrate


@pytest.fixture(scope="module")
def lfs():
    d = pd.read_csv(FIXTURES / "lfs_wide.csv")
    items = list(d.columns[1:])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cal = calibrate(d[items].to_numpy(float), model="pcm", item_names=items)
    return cal, caught, pd.read_csv(FIXTURES / "lfs_sfif.csv"), pd.read_csv(FIXTURES / "lfs_sfpf.csv")


def test_item_measures_agree_after_jmle_spread_factor(lfs):
    cal, _, sfif, _ = lfs
    n_items = len(cal.item_names)
    ours = cal.location * n_items / (n_items - 1)  # JMLE spreads items by about L/(L-1)
    winsteps = sfif["MEASURE"].to_numpy()
    winsteps = winsteps - winsteps.mean()
    assert np.abs(ours - winsteps).max() < 0.15
    assert np.corrcoef(ours, winsteps)[0, 1] > 0.995


def test_a12_null_bottom_category_reported_not_collapsed(lfs):
    cal, caught, sfif, _ = lfs
    assert any(issubclass(w.category, NullCategoryWarning) and "a12" in str(w.message) for w in caught)
    assert any("a12" in note and "category 0" in note for note in cal.warnings)
    cats = cal.categories.set_index(["item", "category"])
    assert bool(cats.loc[("a12", 0), "unused"])
    i = cal.item_names.index("a12")
    assert np.isnan(cal.thresholds[i, 0]) and np.isfinite(cal.thresholds[i, 1])
    # like Winsteps, a12 is left with one step (categories 1-2) and keeps its original scoring
    n_items = len(cal.item_names)
    assert cal.location[i] * n_items / (n_items - 1) == pytest.approx(-1.14 - sfif["MEASURE"].mean(), abs=0.15)


def test_fit_and_person_measures_track_winsteps(lfs):
    cal, _, sfif, sfpf = lfs
    assert np.corrcoef(cal.item_fit["infit_msq"], sfif["IN.MSQ"])[0, 1] > 0.95
    assert np.corrcoef(cal.item_fit["outfit_msq"], sfif["OUT.MSQ"])[0, 1] > 0.95
    nonextreme = ~cal.persons.extreme
    t = cal.persons.theta[nonextreme]
    w = sfpf["MEASURE"].to_numpy()[nonextreme]
    assert np.corrcoef(t, w)[0, 1] > 0.99
    assert np.isfinite(cal.persons.theta).all()  # WLE is finite for the all-"like" pupil
    assert 0.8 < cal.reliability < 0.95
