"""Reporting scale and performance levels."""

from __future__ import annotations

import numpy as np
import pytest

from scoring_jobs.rasch import LEVELS, CutScores, ScaleTransform, classify


def test_transform_from_reference_is_fixed_and_scales_se():
    ref = np.random.default_rng(1).normal(0.4, 1.1, 5000)
    st = ScaleTransform.from_reference(ref, reference="cal-2024-1")
    assert st.apply(ref.mean()) == pytest.approx(250.0)
    assert st.apply(ref.mean() + 2.5 * ref.std()) == pytest.approx(300.0)
    scaled, se = st.apply(np.array([0.0, 1.0]), np.array([0.5, 0.3]))
    np.testing.assert_allclose(se, st.slope * np.array([0.5, 0.3]))
    assert ScaleTransform.from_dict(st.to_dict()) == st
    with pytest.raises(ValueError, match="slope"):
        ScaleTransform.from_dict({"intercept": 250})


def test_classify_with_versioned_cuts():
    cuts = CutScores.from_dict({"version": "2024-1", "moderate_low": 240, "moderate_high": 255, "high": 270})
    got = classify(np.array([200, 240, 254.9, 255, 280, np.nan]), cuts)
    assert got.tolist() == ["emerging", "moderate_low", "moderate_low", "moderate_high", "high", ""]
    assert set(got[:5]) == set(LEVELS)
    with pytest.raises(ValueError, match="increase"):
        CutScores("x", 250, 240, 270)
    with pytest.raises(ValueError, match="version"):
        CutScores.from_dict({"moderate_low": 1, "moderate_high": 2, "high": 3})
