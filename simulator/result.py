"""What a simulation returns: the records in stream order, the truth, counts, and the enrolment."""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from leap.errors import LeapError
from simulator.config import SimConfig
from simulator.truth import Truth

ENROLMENT_COLUMNS = ("school_id", "school_year", "term", "instrument", "expected_respondents")


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


class EnrolmentRow(NamedTuple):
    """How many respondents a school expected for an instrument in a term (its roster)."""

    school_id: str
    school_year: str
    term: str
    instrument: str
    expected_respondents: int


@dataclass
class SimulationResult:
    """Records in stream order, the truth, counts of what was produced, and what enrolment says.

    ``respondents``: (school_id, school_year, term, instrument, respondents) per administration;
    ``response_rates``: each school's true response rate (respondents over enrolment).
    """

    config: SimConfig
    records: list[SimRecord]
    truth: Truth
    counts: dict
    respondents: list[tuple[str, str, str, str, int]] = field(default_factory=list)
    response_rates: dict[str, float] = field(default_factory=dict)

    def enrolment(self) -> list[EnrolmentRow]:
        """Expected respondents per school x term x instrument: ceil(respondents / the school's rate).

        A partner's roster file: only administrations somebody answered (no roster for the others).
        """
        return [EnrolmentRow(school, year, term, name, math.ceil(n / self.response_rates[school]))
                for school, year, term, name, n in self.respondents if n > 0]

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


def write_enrolment(rows: Iterable[tuple], path: str | Path) -> int:
    """Write enrolment rows as CSV (header ``school_id,school_year,term,instrument,expected_respondents``);
    returns the row count. Raises LeapError when the file cannot be written."""
    n = 0
    try:
        with Path(path).open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(ENROLMENT_COLUMNS)
            for row in rows:
                writer.writerow(tuple(row))
                n += 1
    except OSError as exc:
        raise LeapError(f"cannot write {path}: {exc.strerror or exc}", hint="choose a writable output path") from None
    return n
