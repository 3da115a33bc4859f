"""Running a test's own Playwright browser whatever the session holds."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


def in_own_thread(fn: Callable[..., T], *args, **kwargs) -> T:
    """``fn(*args, **kwargs)`` in a thread of its own. Playwright's sync API refuses a thread with a running
    asyncio loop, and the session's ``browser`` fixture (tests/reports/conftest.py) keeps one running in
    the main thread from the first test that uses it to the end of the session: a test that starts its
    own browser in the main thread passes or fails by the order the tests run in."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(fn, *args, **kwargs).result()
