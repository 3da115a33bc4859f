"""A small simulated school year shared by the simulator and partner-file tests (helpers, not fixtures)."""

from __future__ import annotations

from functools import lru_cache

import orjson

from simulator import SimConfig, SimulationResult, simulate

SMALL = SimConfig(seed=11, n_schools={"national": 6, "nextgen": 3, "leap_network": 3}, teachers_per_school=8,
                  students_per_school=30, malformed_share=0.03, resubmission_share=0.02, double_answer_share=0.03)


@lru_cache(maxsize=1)
def small_result() -> SimulationResult:
    return simulate(SMALL)


def valid_events(result: SimulationResult) -> list[dict]:
    """Valid, parsed events (resubmissions included once per record)."""
    return [orjson.loads(r.value) for r in result.records if r.valid]
