"""Fixtures of the validation tests (helpers live in support.expectations)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def suite_runner():
    """One GE context for the whole session (importing GE costs seconds)."""
    from expectations.engine import SuiteRunner
    from expectations.suites import load_suites

    return SuiteRunner(load_suites())
