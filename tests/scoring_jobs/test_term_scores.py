"""Drift acted on, and the classification indices, on simulated data with known truth (no warehouse)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from scoring_jobs.rasch import CutScores, calibrate
from scoring_jobs.rasch.simulate import simulate_responses
from scoring_jobs.term_scores import _drop_from_anchors, _persons, classification_quality, drifting_items

N_STEPS = np.full(7, 4)


@pytest.fixture(scope="module")
def bank():
    rng = np.random.default_rng(21)
    loc = np.linspace(-1.2, 1.2, 7)
    thr = loc[:, None] + np.array([-1.5, -0.5, 0.5, 1.5])[None, :]
    reference = simulate_responses(rng.normal(0, 1, 4000), thr, rng)
    cal = calibrate(reference, model="pcm", n_steps=N_STEPS)
    return thr, cal, rng


def _term(bank, shift: float, n: int = 3000, growth: float = 0.4):
    thr, cal, rng = bank
    drifted = thr.copy()
    drifted[3] += shift  # item 4 got harder between the terms (e.g. reworded), by `shift` logits
    theta = rng.normal(growth, 1, n)
    return theta, simulate_responses(theta, drifted, rng)


def test_a_drifting_item_is_flagged_dropped_and_the_term_rescored_without_it(bank):
    _, cal, _ = bank
    theta, resp = _term(bank, shift=0.5)
    all_items = np.ones(7, dtype=bool)
    ok, _, persons, sums = _persons(resp, 4, cal.thresholds, N_STEPS, all_items)
    table = sums.table()
    flagged = drifting_items(table)
    assert flagged.tolist() == [False, False, False, True, False, False, False]
    d = table["displacement"].to_numpy()
    assert 0.3 <= d[3] < 0.5  # the one-step displacement is attenuated: the old 0.5 rule missed it
    anchors = _drop_from_anchors(table, all_items)
    assert anchors.tolist() == [True, True, True, False, True, True, True]
    _, _, rescored, _ = _persons(resp, 4, cal.thresholds, N_STEPS, anchors)
    bias_all = np.nanmean(persons.theta - theta[ok])
    bias_anchored = np.nanmean(rescored.theta - theta)
    assert bias_all < -0.04 and abs(bias_anchored) < abs(bias_all) / 3  # the drift no longer leaks into growth


def test_a_term_scored_in_batches_is_the_term_scored_at_once(bank):
    """Persons bit for bit (each estimate stops at its own convergence), item statistics to rounding."""
    _, cal, _ = bank
    _, resp = _term(bank, shift=0.5)
    all_items = np.ones(7, dtype=bool)
    ok, _, whole, sums = _persons(resp, 4, cal.thresholds, N_STEPS, all_items)
    parts = [_persons(part, 4, cal.thresholds, N_STEPS, all_items) for part in np.array_split(resp, 3)]
    theta = np.concatenate([p[2].theta for p in parts])
    assert np.array_equal(theta, whole.theta, equal_nan=True)
    assert np.array_equal(np.concatenate([p[2].infit_msq for p in parts]), whole.infit_msq, equal_nan=True)
    batched = (parts[0][3] + parts[1][3] + parts[2][3]).table()
    assert batched["n"].tolist() == sums.table()["n"].tolist()
    np.testing.assert_allclose(batched.to_numpy(float), sums.table().to_numpy(float), rtol=1e-12, atol=1e-12)
    assert not np.allclose(parts[0][3].table()["displacement"], batched["displacement"], rtol=1e-3)  # sums, not one part


def test_no_item_is_flagged_without_drift(bank):
    _, cal, _ = bank
    _, resp = _term(bank, shift=0.0)
    _, _, _, sums = _persons(resp, 4, cal.thresholds, N_STEPS, np.ones(7, dtype=bool))
    assert not drifting_items(sums.table()).any()


def test_classification_indices():
    cuts = CutScores("v", 238, 252, 266)
    acc, cons = classification_quality(np.array([245.0, 238.0, 300.0, np.nan]), np.array([1.0, 5.0, 5.0, 5.0]), cuts)
    assert acc[0] > 0.99 and cons[0] > 0.99  # 7 SE from both neighbouring cuts
    # on the cut into moderate_low (band 238-252, 2.8 SE wide): half the mass below it, the rest inside
    assert abs(acc[1] - (norm.cdf(14 / 5) - 0.5)) < 1e-12
    assert abs(cons[1] - (0.5**2 + (norm.cdf(2.8) - 0.5) ** 2 + (1 - norm.cdf(2.8)) ** 2)) < 1e-8
    assert acc[2] > 0.99999 and np.isnan(acc[3])


def test_workers_only_while_the_data_leaves_room_for_them(monkeypatch):
    """DIF, the calibration's quality reports and term scoring use LEAP_WORKERS up to 1 M persons /
    respondents and one process above: at ten million submissions their workers took the steps past the
    3 GB per step (BENCHMARKS.md)."""
    import numpy as np
    import pandas as pd

    from scoring_jobs import item_bank, item_dif, term_scores

    monkeypatch.setenv("LEAP_WORKERS", "2")
    small = pd.DataFrame({"n_persons": [478_337, 48_650]})
    large = pd.DataFrame({"n_persons": [item_dif.WORKERS_MAX_PERSONS + 1, 48_650]})
    assert item_dif._workers(small) == 2 and item_dif._workers(large) == 1
    assert term_scores._workers([478_337]) == 2  # three batches of 200,000
    assert term_scores._workers([150_000]) == 1  # one batch: no worker to start
    assert term_scores._workers([term_scores.WORKERS_MAX_TERM + 1]) == 1
    assert term_scores._workers([150_000, 81_051]) == 2  # a batch of each instrument, side by side
    assert term_scores._workers([term_scores.WORKERS_MAX_TERM + 1, 81_051]) == 1

    def scales(*n_persons):  # (instrument, component, items, responses, ...) as calibrate_reference lists them
        return [(None, "LF", [], np.zeros((n, 1), np.int8), None, None, None) for n in n_persons]
    assert item_bank._quality_workers(scales(478_337, 48_650, 48_650)) == 2
    assert item_bank._quality_workers(scales(item_bank.QUALITY_WORKERS_MAX_PERSONS + 1, 48_650)) == 1
