"""Token buckets per key (a client address, an access code), in the server process.

A bucket holds up to ``burst`` tokens and refills at ``rate`` tokens per second; a request takes one
or is refused with the seconds until one is back (the ``Retry-After`` of the 429). Keys are kept in
least-recently-used order and the oldest dropped beyond ``max_keys``, so a flood of new addresses costs
bounded memory; a dropped key comes back with a full bucket, which only ever errs towards letting a
real respondent in.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable


class RateLimiter:
    def __init__(self, rate: float, burst: int, max_keys: int = 100_000,
                 clock: Callable[[], float] = time.monotonic):
        self.rate, self.burst, self.max_keys, self._clock = rate, burst, max_keys, clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, at)

    def take(self, key: str) -> float:
        """0 when the request may go ahead, else the seconds to wait for a token."""
        now = self._clock()
        tokens, at = self._buckets.pop(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - at) * self.rate)
        wait = 0.0 if tokens >= 1 else (1 - tokens) / self.rate if self.rate > 0 else math.inf
        self._buckets[key] = (tokens - 1 if wait == 0 else tokens, now)
        if len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
        return wait
