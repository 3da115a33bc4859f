"""One offline headless Chromium for the whole session (``make setup`` installs the Debian package)."""

from __future__ import annotations

import pytest

from leap.errors import LeapError
from reports.browser import find_chromium, offline_browser


@pytest.fixture(scope="session")
def browser():
    """An :class:`reports.browser.OfflineBrowser`; the tests are skipped only when Chromium is not installed."""
    try:
        find_chromium()
    except LeapError as exc:
        pytest.skip(f"Chromium is not installed, so the report browser cannot be tested: {exc}")
    with offline_browser() as instance:
        yield instance
