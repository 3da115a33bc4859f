"""What a simulation returns: the records in stream order, the truth, and counts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from simulator.config import SimConfig
from simulator.truth import Truth


class SimRecord(NamedTuple):
    """One Kafka record: ``key`` (school id), ``value`` (event bytes), what it is and its fate.

    ``kind`` is original | double_answer | resubmission | malformed; ``reason`` is the dead-letter
    reason :func:`ingestion.contract.check_submission` gives, or None for a valid event. Indexing
    ``rec[0], rec[1]`` gives key and value, so writers take plain ``(key, value)`` pairs too.
    """

    key: bytes | None
    value: bytes
    kind: str
    reason: str | None = None

    @property
    def valid(self) -> bool:
        return self.reason is None


@dataclass
class SimulationResult:
    """Records in stream order, the truth, and counts of what was produced."""

    config: SimConfig
    records: list[SimRecord]
    truth: Truth
    counts: dict

    @property
    def produced(self) -> int:
        return self.counts["produced"]

    @property
    def valid_unique(self) -> int:
        return self.counts["valid_unique"]

    @property
    def resubmitted(self) -> int:
        return self.counts["resubmitted"]

    @property
    def malformed(self) -> dict[str, int]:
        return self.counts["malformed"]

    def summary(self) -> str:
        c = self.counts
        lines = [f"records produced:        {c['produced']}",
                 f"valid unique submissions: {c['valid_unique']}",
                 f"resubmitted (same id):    {c['resubmitted']}",
                 f"answered twice in a term: {c['double_answers']}",
                 f"malformed:                {sum(c['malformed'].values())}"
                 + "".join(f"\n  {r}: {n}" for r, n in c["malformed"].items() if n),
                 f"schools:                  {c['schools']}",
                 "respondents per instrument x term:"]
        lines += [f"  {k}: {n}" for k, n in c["respondents"].items()]
        return "\n".join(lines)

