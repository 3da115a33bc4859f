"""Every suite has a known-good fixture that passes and a known-bad one failing for its stated reason."""

from __future__ import annotations

import pytest
from support.expectations import CASES, FIXTURES

from expectations.suites import suite_name


def test_every_suite_has_a_good_and_a_bad_fixture():
    from leap.instrument import load_catalog

    assert set(CASES) == {suite_name(n) for n in load_catalog().names}
    for case in CASES.values():
        assert (FIXTURES / case["good"]).is_file() and (FIXTURES / case["bad"]).is_file() and case["bad_fails"]


@pytest.mark.parametrize("suite", sorted(CASES))
def test_good_fixture_passes(suite, suite_runner):
    c = CASES[suite]
    out = suite_runner.run_file(FIXTURES / c["good"], c["instrument"], c["school_year"], c["term"])
    assert out.success, out.failed
    assert out.rows == c["rows"] and out.result["statistics"]["unsuccessful_expectations"] == 0


@pytest.mark.parametrize("suite", sorted(CASES))
def test_bad_fixture_fails_for_the_stated_reason(suite, suite_runner):
    c = CASES[suite]
    out = suite_runner.run_file(FIXTURES / c["bad"], c["instrument"], c["school_year"], c["term"])
    assert not out.success
    assert {f["check"] for f in out.failed} == set(c["bad_fails"])
    for f in out.failed:  # the result names the bad values
        assert f["unexpected_count"] == c["rows"] and f["sample_unexpected"]
