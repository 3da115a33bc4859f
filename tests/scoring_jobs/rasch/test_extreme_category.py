"""A category used only by persons with extreme (all-lowest) scores.

tests/scoring_jobs/rasch/fixtures/extreme_category.csv (scoring_jobs/rasch/reference/make_extreme_category.py):
506 persons x 6 items; category 0 of i1 is used only by the six persons who answered 0 everywhere.
CML conditions on the raw score, so those persons carry no information and nothing locates the step
into i1's category 1: before the fix the step diverged and the covariance inversion failed ("SVD did
not converge"), aborting every scale. psychotools and eRm (scoring_jobs/rasch/reference/
extreme_category_reference.R) stop their optimisers wherever their tolerance is met on that step
(-16.3 and -18.0); the other 23 thresholds agree with each other to 6e-5.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from support.rasch import FIXTURES

from scoring_jobs.rasch import NullCategoryWarning, calibrate


@pytest.fixture(scope="module")
def fitted():
    d = pd.read_csv(FIXTURES / "extreme_category.csv")
    items = [c for c in d.columns if c != "id"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cal = calibrate(d[items].to_numpy(), model="pcm", item_names=items, n_steps=np.full(len(items), 4))
    return cal, caught


def _ours(cal) -> pd.DataFrame:
    return cal.items_table().rename(columns={"item": "item", "threshold": "ours"})


def test_the_step_only_extremes_used_is_a_structural_zero_with_a_warning(fitted):
    cal, caught = fitted
    assert cal.converged
    i1 = _ours(cal).query("item == 'i1'").set_index("step")["ours"]
    assert np.isnan(i1[1]) and np.isfinite(i1[[2, 3, 4]]).all()
    assert any(issubclass(w.category, NullCategoryWarning) and "i1" in str(w.message) for w in caught)
    assert cal.categories.query("item == 'i1' and category == 0")["unused"].item()


@pytest.mark.parametrize("package", ["psychotools", "erm"])
def test_the_other_thresholds_equal_the_r_packages(fitted, package):
    cal, _ = fitted
    ref = pd.read_csv(FIXTURES / f"{package}_extreme_category.csv")
    both = ref.merge(_ours(cal), on=["item", "step"])
    assert len(both) == 24
    assert both["threshold"].isna().sum() == 1 and both["ours"].isna().sum() == 1
    ok = both.dropna()
    assert np.abs(ok["threshold"] - ok["ours"]).max() < 1e-4  # the packages agree with each other to 6e-5
