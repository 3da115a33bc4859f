"""Seeded, realistic simulator of LEAP survey submissions (event v1), with the truth behind them.

Why: every later part (ingestion, expectations, dbt marts, Rasch scoring, growth) needs a stream
that looks like production *and* whose generating parameters are known, so tests can check that
the pipeline stores each valid submission once and that calibration recovers item thresholds,
person measures and school growth.

What is simulated (all from one ``numpy.random.Generator`` tree seeded by ``SimConfig.seed``; no
global randomness, so the same config and seed give byte-identical records):

- **Schools** ``SCH-0001`` … in three samples (national probability sample, NextGen, LEAP network),
  each with grade band, region and urbanicity. National schools follow
  ``population_margins.csv``; NextGen and LEAP network schools are mostly urban (LEAP mostly midwest).
- **Respondents** ``T-<school>-<n>`` / ``S-<school>-<n>``, stable across terms (fall and spring can be
  matched), with attrition between terms and new arrivals. Students carry optional demographics.
- **Responses** from the polytomous Rasch (partial credit) model. Each item of each instrument has a
  location ~ N(0, 0.8) plus ordered step offsets; each respondent has a measure per component
  (LF, LD, LL and the unscaled LC) = school mean + person deviation. School means are higher on
  LD/LL for NextGen and LEAP network schools; **true growth fall→spring differs by school and
  component** (~ N(0.25, 0.2) logits, some schools exactly 0, some large). Skipped items are null.
- **Stream realism**: ``submitted_at`` inside the term's administration window (a school-specific
  two-week slot on weekdays, US school hours); resubmissions (same ``submission_id``, same bytes,
  shortly after); respondents answering twice in a term (new ``submission_id``, later time);
  a configurable share of malformed events covering every dead-letter reason of
  :data:`leap.events.REASONS`. Every record says whether it is valid and, if not, the reason
  :func:`leap.events.check_submission` gives.
- **Weights** only on national-sample submissions: population cell total (region × grade band, from
  the margins) over respondents in the cell, times a per-school non-response factor.

Public API: :class:`SimConfig`, :func:`simulate` → :class:`SimulationResult` (``records``, ``truth``,
``counts``), :class:`Truth` (``write``), :func:`write_truth`, :func:`write_jsonl`, :func:`produce`,
and the partner bulk-file helpers :func:`write_partner_csv`, :func:`read_partner_file`,
:func:`produce_file`.

Partner CSV format (wide, one row per submission, UTF-8 with a header row):
``submission_id, instrument, instrument_version, school_id, respondent_id, school_year, term,
submitted_at, grade_band, sample, region, urbanicity, weight, grade, gender, race_ethnicity,
parent_education`` then one column per item id of every instrument (catalog order). An empty cell
means the field is absent; for an item of the row's instrument version an empty cell means
*skipped* (null), while an item column missing from the file leaves the item out. The demographic columns become the ``demographics`` object when any is filled.
Cells that do not parse (e.g. ``"often"`` as a category) are passed on as strings, so the validator
rejects the row with ``schema_violation`` rather than the converter guessing.
"""

from __future__ import annotations

import csv
import dataclasses
import gc
import io
import sys
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import orjson

from leap.errors import LeapError
from leap.events import REASONS
from leap.instrument import Catalog, Instrument, load_catalog, population_margins, term_window, term_windows

SAMPLES = ("national", "nextgen", "leap_network")
REGIONS = ("northeast", "midwest", "south", "west")
URBANICITY = ("city", "suburb", "town", "rural")
BANDS = ("elementary", "middle", "high")
COMPONENTS = ("LF", "LD", "LL", "LC")
DEFAULT_SCHOOLS = {"national": 20, "nextgen": 10, "leap_network": 10}
SAMPLE_MIX = {"national": 0.5, "nextgen": 0.25, "leap_network": 0.25}

# School mean shift (logits) by sample, per component LF, LD, LL, LC: personalized-learning
# initiatives practise more of it, most visibly on Learner Demonstrated and Learner Led.
SAMPLE_EFFECT = {
    "national": (0.0, 0.0, 0.0, 0.0),
    "nextgen": (0.2, 0.45, 0.4, 0.15),
    "leap_network": (0.3, 0.5, 0.55, 0.2),
}
# Geography of the non-probability samples (the national sample follows the population margins).
SAMPLE_GEO = {
    "nextgen": {"region": (0.25, 0.25, 0.25, 0.25), "urbanicity": (0.5, 0.25, 0.1, 0.15)},
    "leap_network": {"region": (0.08, 0.76, 0.08, 0.08), "urbanicity": (0.7, 0.2, 0.05, 0.05)},
}
GRADES = {"elementary": (3, 5), "middle": (6, 8), "high": (9, 12)}
DEMOGRAPHICS = {
    "gender": {"female": 0.485, "male": 0.485, "nonbinary": 0.015, "prefer_not_to_say": 0.015},
    "race_ethnicity": {"white": 0.45, "hispanic": 0.28, "black": 0.15, "asian": 0.05, "two_or_more": 0.05,
                       "american_indian": 0.01, "pacific_islander": 0.01},
    "parent_education": {"less_than_high_school": 0.1, "high_school": 0.25, "some_college": 0.3,
                         "bachelors": 0.2, "graduate": 0.15},
}
PERSON_SD = {"teacher": 0.8, "student": 1.0}  # SD of person deviations from the school mean
COMPONENT_CORR = 0.6  # correlation of a person's deviations across components
SCHOOL_SD = 0.35  # SD of school means around the sample mean
BASE_MEAN = 0.3  # respondents lean to the agreeing end of the scales, as surveys do
GROWTH_MEAN, GROWTH_SD = 0.25, 0.2
ZERO_GROWTH_SHARE, LARGE_GROWTH_SHARE = 0.1, 0.1
INDIVIDUAL_GROWTH_SD = 0.25
SLOT_DAYS = 15  # a school administers within a slot of this many days inside the term window
MS_PER_DAY = 86_400_000

CSV_BASE_COLUMNS = ["submission_id", "instrument", "instrument_version", "school_id", "respondent_id",
                    "school_year", "term", "submitted_at", "grade_band", "sample", "region", "urbanicity",
                    "weight"]
DEMOGRAPHIC_COLUMNS = ["grade", "gender", "race_ethnicity", "parent_education"]


# --------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class SimConfig:
    """What to simulate. Shares are probabilities per submission (or per respondent and term)."""

    seed: int = 0
    school_year: str = "2024-25"
    terms: tuple[str, ...] = ("fall", "spring")
    n_schools: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_SCHOOLS))  # per sample
    teachers_per_school: int = 12  # mean; schools vary in size
    students_per_school: int = 60  # mean
    malformed_share: float = 0.0  # share of all produced records that are malformed
    resubmission_share: float = 0.01  # submissions sent twice with the same id and bytes
    double_answer_share: float = 0.02  # respondents answering twice in a term (new id, later time)
    skip_share: float = 0.04  # item-level nulls (some respondents skip much more than others)
    attrition: float = 0.10  # respondents of a term who do not answer in the next term
    arrivals: float = 0.08  # new respondents per term, as a share of the school's first roster
    demographics_share: float = 0.85  # students whose record carries demographics
    instruments: tuple[str, ...] = ("teacher", "student")

    def validate(self) -> None:
        """Raise LeapError for settings that cannot produce a meaningful stream."""
        _check_year(self.school_year)
        known = set(term_windows())
        if not self.terms or any(t not in known for t in self.terms) or len(set(self.terms)) < len(self.terms):
            raise LeapError(f"terms must be distinct terms of {sorted(known)}, got {list(self.terms)}")
        if set(self.n_schools) - set(SAMPLES) or any(int(n) < 0 for n in self.n_schools.values()):
            raise LeapError(f"n_schools takes non-negative counts for {list(SAMPLES)}, got {dict(self.n_schools)}")
        if self.teachers_per_school < 0 or self.students_per_school < 0:
            raise LeapError("teachers and students per school must not be negative")
        for name in ("malformed_share", "resubmission_share", "double_answer_share", "skip_share",
                     "attrition", "arrivals", "demographics_share"):
            value = getattr(self, name)
            if not 0.0 <= value <= (0.5 if name == "malformed_share" else 1.0):
                raise LeapError(f"{name} = {value} is out of range", hint="shares are fractions such as 0.01")

    @property
    def total_schools(self) -> int:
        return int(sum(self.n_schools.values()))

    def expected_submissions(self) -> float:
        """Approximate number of produced records, for sizing runs."""
        per_term = sum((1 - self.attrition + self.arrivals) ** i for i in range(len(self.terms)))
        people = self.teachers_per_school * ("teacher" in self.instruments)
        people += self.students_per_school * ("student" in self.instruments)
        valid = self.total_schools * people * per_term * (1 + self.double_answer_share)
        return valid * (1 + self.resubmission_share) / (1 - self.malformed_share)

    def with_total_schools(self, total: int) -> SimConfig:
        """The same config with ``total`` schools split by :data:`SAMPLE_MIX`."""
        national = round(total * SAMPLE_MIX["national"])
        nextgen = round(total * SAMPLE_MIX["nextgen"])
        counts = {"national": national, "nextgen": nextgen, "leap_network": max(0, total - national - nextgen)}
        return dataclasses.replace(self, n_schools=counts)

    def scaled_to(self, submissions: int) -> SimConfig:
        """The same config with the number of schools chosen to produce about ``submissions`` records."""
        base = self.with_total_schools(1).expected_submissions() or 1.0
        return self.with_total_schools(max(1, round(submissions / base)))


def _check_year(year: str) -> None:
    ok = len(year) == 7 and year[4] == "-" and year[:4].isdigit() and year[5:].isdigit()
    if not ok or (int(year[:4]) + 1) % 100 != int(year[5:]):
        raise LeapError(f"school year {year!r} is not YYYY-YY with consecutive years", hint="e.g. 2024-25")


# --------------------------------------------------------------------------- truth


@dataclass
class Truth:
    """The parameters behind a simulated stream, for recovery tests.

    - ``items``: one dict per instrument item: instrument, instrument_version, item_id, component,
      location and ``thresholds`` (PCM step thresholds δ_ik in logits, category k-1 → k at index k-1).
    - ``schools``: one dict per school: school_id, sample, grade_band, region, urbanicity,
      ``mean_theta`` {term: {component: logits}} (the school's population mean) and ``growth``
      {component: logits} (true mean change fall → spring).
    - ``respondents``: columns (equal-length lists/arrays) instrument, school_id, respondent_id, term
      and ``theta_<component>``: each respondent's true measure in each term they answered.
    """

    seed: int
    school_year: str
    terms: tuple[str, ...]
    items: list[dict]
    schools: list[dict]
    respondents: dict[str, list | np.ndarray]
    _theta_index: dict | None = field(default=None, repr=False)

    def item_thresholds(self, instrument: str) -> dict[str, list[float]]:
        """{item_id: thresholds} of one instrument, in item order."""
        return {i["item_id"]: i["thresholds"] for i in self.items if i["instrument"] == instrument}

    def item_params(self, instrument: str, component: str) -> list[dict]:
        """Rows (item, step, threshold) in the scoring tools' ``items.csv`` layout."""
        return [{"item": i["item_id"], "step": k + 1, "threshold": t} for i in self.items
                if i["instrument"] == instrument and i["component"] == component
                for k, t in enumerate(i["thresholds"])]

    def school(self, school_id: str) -> dict:
        return next(s for s in self.schools if s["school_id"] == school_id)

    def theta(self, instrument: str, respondent_id: str, term: str) -> dict[str, float]:
        """A respondent's true measure per component in a term."""
        if self._theta_index is None:
            r = self.respondents
            keys = zip(r["instrument"], r["respondent_id"], r["term"], strict=True)
            self._theta_index = {k: i for i, k in enumerate(keys)}
        i = self._theta_index[(instrument, respondent_id, term)]
        return {c: float(self.respondents[f"theta_{c}"][i]) for c in COMPONENTS}

    def to_dict(self) -> dict:
        cols = {k: (v.tolist() if isinstance(v, np.ndarray) else list(v)) for k, v in self.respondents.items()}
        return {"seed": self.seed, "school_year": self.school_year, "terms": list(self.terms),
                "items": self.items, "schools": self.schools, "respondents": cols}

    def write(self, path: str | Path) -> Path:
        """Write the truth: ``*.json`` → one JSON document; otherwise a directory of Parquet files
        (``items.parquet`` long by step, ``schools.parquet`` long by term × component,
        ``respondents.parquet``)."""
        return write_truth(self, path)


def write_truth(truth: Truth, path: str | Path) -> Path:
    """See :meth:`Truth.write`. Raises LeapError when the path cannot be written."""
    path = Path(path)
    try:
        if path.suffix == ".json":
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(orjson.dumps(truth.to_dict(), option=orjson.OPT_INDENT_2))
        else:
            _write_truth_parquet(truth, path)
    except OSError as exc:
        raise LeapError(f"cannot write the simulation truth to {path}: {exc.strerror or exc}",
                        hint="choose a writable path") from None
    return path


def _write_truth_parquet(truth: Truth, directory: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    directory.mkdir(parents=True, exist_ok=True)
    items = [{"instrument": i["instrument"], "instrument_version": i["instrument_version"],
              "item_id": i["item_id"], "component": i["component"], "location": i["location"],
              "step": k + 1, "threshold": t} for i in truth.items for k, t in enumerate(i["thresholds"])]
    schools = [{"school_id": s["school_id"], "sample": s["sample"], "grade_band": s["grade_band"],
                "region": s["region"], "urbanicity": s["urbanicity"], "term": term, "component": c,
                "mean_theta": s["mean_theta"][term][c], "growth": s["growth"][c]}
               for s in truth.schools for term in truth.terms for c in COMPONENTS]
    pq.write_table(pa.Table.from_pylist(items), directory / "items.parquet")
    pq.write_table(pa.Table.from_pylist(schools), directory / "schools.parquet")
    pq.write_table(pa.table({k: list(v) if not isinstance(v, np.ndarray) else v
                             for k, v in truth.respondents.items()}), directory / "respondents.parquet")


# --------------------------------------------------------------------------- records and result


class SimRecord(NamedTuple):
    """One Kafka record: ``key`` (school id), ``value`` (event bytes), what it is and its fate.

    ``kind`` is original | double_answer | resubmission | malformed; ``reason`` is the dead-letter
    reason :func:`leap.events.check_submission` gives, or None for a valid event. Indexing
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


# --------------------------------------------------------------------------- the simulation


@dataclass
class _Streams:
    """Independent random streams: changing one share does not shift the draws of the others."""

    items: np.random.Generator
    schools: np.random.Generator
    people: np.random.Generator
    responses: np.random.Generator
    timing: np.random.Generator
    extras: np.random.Generator
    malformed: np.random.Generator

    @classmethod
    def from_seed(cls, seed: int) -> _Streams:
        children = np.random.SeedSequence(seed).spawn(7)
        return cls(*(np.random.default_rng(c) for c in children))


@dataclass
class _Schools:
    ids: list[str]
    sample: list[str]
    band: list[str]
    region: list[str]
    urban: list[str]
    base: np.ndarray  # (S, 4) fall mean theta per component
    growth: np.ndarray  # (S, 4)
    nonresponse: np.ndarray  # (S,) weight factor

    def __len__(self) -> int:
        return len(self.ids)


@dataclass
class _People:
    """Everyone who answers an instrument in any term of the year (rows = persons)."""

    ins: Instrument
    school: np.ndarray  # (P,) school index
    ids: list[str]
    present: np.ndarray  # (P, n_terms) answers in that term
    dev: np.ndarray  # (P, 4) deviation from the school mean
    idev: np.ndarray  # (P, 4) individual deviation from the school's growth
    skip_p: np.ndarray  # (P,) probability of skipping an item
    demographics: list[dict | None] | None


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector: the simulation allocates millions of acyclic objects, and
    collections triggered by them cost a quarter of the run time. The previous state is restored."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def simulate(config: SimConfig | None = None, catalog: Catalog | None = None) -> SimulationResult:
    """Simulate one school year of submissions; deterministic in ``config`` (and the instrument data)."""
    with _gc_paused():
        return _simulate(config or SimConfig(), catalog)


def _simulate(config: SimConfig, catalog: Catalog | None) -> SimulationResult:
    config.validate()
    catalog = catalog or load_catalog()
    rng = _Streams.from_seed(config.seed)
    instruments = [catalog.latest(name) for name in config.instruments]
    thresholds = {ins.name: _draw_thresholds(ins, rng.items) for ins in instruments}
    schools = _draw_schools(config, rng.schools)
    people = {ins.name: _draw_people(config, ins, schools, rng.people) for ins in instruments}
    slots = {term: _draw_slots(config.school_year, term, len(schools), rng.timing) for term in config.terms}
    pending: list[tuple] = []
    for t, term in enumerate(config.terms):
        for ins in instruments:
            pending += _term_block(config, schools, people[ins.name], thresholds[ins.name], t, slots[term], rng)
    pending += _resubmissions(pending, config.resubmission_share, rng.extras)
    pending += _malformed(pending, config.malformed_share, catalog, rng.malformed)
    pending.sort(key=lambda r: (r[0], r[1]))
    records = [SimRecord(key, value, kind, reason) for _, _, key, value, kind, reason in pending]
    truth = _truth(config, instruments, thresholds, schools, people)
    return SimulationResult(config, records, truth, _counts(records, people, config, len(schools)))


def _draw_thresholds(ins: Instrument, rng: np.random.Generator) -> np.ndarray:
    """PCM thresholds (I, max_steps), NaN-padded: location ~ N(0, 0.8) + ordered, centred steps."""
    steps = max(i.max_category for i in ins.items)
    out = np.full((len(ins.items), steps), np.nan)
    for row, item in enumerate(ins.items):
        k = item.max_category
        location = rng.normal(0.0, 0.8)
        offsets = np.sort(np.linspace(-1.8, 1.8, k) + rng.normal(0.0, 0.2, k)) if k > 1 else np.zeros(k)
        out[row, :k] = location + offsets - offsets.mean()
    return out


def _margin_shares(instrument: str, variable: str, levels: tuple[str, ...]) -> np.ndarray:
    totals = {r["level"]: float(r["total"]) for r in population_margins()
              if r["instrument"] == instrument and r["variable"] == variable}
    shares = np.array([totals.get(level, 0.0) for level in levels])
    return shares / shares.sum() if shares.sum() > 0 else np.full(len(levels), 1.0 / len(levels))


def _draw_schools(config: SimConfig, rng: np.random.Generator) -> _Schools:
    samples = [s for s in SAMPLES for _ in range(int(config.n_schools.get(s, 0)))]
    n = len(samples)
    band = rng.choice(BANDS, size=n, p=_margin_shares("teacher", "grade_band", BANDS)).tolist()
    national = {"region": _margin_shares("teacher", "region", REGIONS),
                "urbanicity": _margin_shares("teacher", "urbanicity", URBANICITY)}
    region, urban = [], []
    for sample in samples:
        geo = SAMPLE_GEO.get(sample, national)
        region.append(str(rng.choice(REGIONS, p=geo["region"])))
        urban.append(str(rng.choice(URBANICITY, p=geo["urbanicity"])))
    corr = np.full((4, 4), 0.7) + 0.3 * np.eye(4)
    effects = np.array([SAMPLE_EFFECT[s] for s in samples]).reshape(n, 4)
    base = BASE_MEAN + effects + rng.multivariate_normal(np.zeros(4), corr * SCHOOL_SD**2, size=n)
    growth = rng.normal(GROWTH_MEAN, GROWTH_SD, size=(n, 4))
    kind = rng.random(n)
    growth[kind < ZERO_GROWTH_SHARE] = 0.0
    large = kind > 1 - LARGE_GROWTH_SHARE
    growth[large] = rng.uniform(0.7, 1.1, size=(int(large.sum()), 4))
    order = rng.permutation(n)  # ids do not give away the sample
    ids = [""] * n
    for number, idx in enumerate(order, 1):
        ids[idx] = f"SCH-{number:04d}"
    return _Schools(ids, samples, band, region, urban, base, growth, rng.lognormal(0.0, 0.2, n))


def _roster_sizes(mean: int, n_schools: int, rng: np.random.Generator) -> np.ndarray:
    if mean <= 0:
        return np.zeros(n_schools, dtype=np.int64)
    return np.maximum(1, np.rint(mean * rng.lognormal(-0.045, 0.3, n_schools))).astype(np.int64)


def _draw_people(config: SimConfig, ins: Instrument, schools: _Schools, rng: np.random.Generator) -> _People:
    """Rosters per school: the first term's respondents, then attrition and arrivals each term."""
    mean = config.teachers_per_school if ins.respondent_type == "teacher" else config.students_per_school
    first = _roster_sizes(mean, len(schools), rng)
    n_terms = len(config.terms)
    school = np.repeat(np.arange(len(schools)), first)
    present = np.zeros((school.size, n_terms), dtype=bool)
    present[:, 0] = True
    for t in range(1, n_terms):
        present[:, t] = present[:, t - 1] & (rng.random(school.size) >= config.attrition)
        new = rng.binomial(first, config.arrivals)
        block = np.zeros((int(new.sum()), n_terms), dtype=bool)
        block[:, t:] = True
        school = np.concatenate([school, np.repeat(np.arange(len(schools)), new)])
        present = np.concatenate([present, block])
    sd = PERSON_SD.get(ins.respondent_type, 1.0)
    cov = (np.full((4, 4), COMPONENT_CORR) + (1 - COMPONENT_CORR) * np.eye(4)) * sd**2
    dev = rng.multivariate_normal(np.zeros(4), cov, size=school.size)
    idev = rng.normal(0.0, INDIVIDUAL_GROWTH_SD, size=(school.size, 4))
    share = min(max(config.skip_share, 1e-6), 1 - 1e-6)
    skip_p = rng.beta(0.6, 0.6 * (1 - share) / share, size=school.size) if config.skip_share > 0 else np.zeros(
        school.size)
    ids = _respondent_ids(ins.respondent_type[0].upper(), school, schools.ids)
    demo = None
    if ins.respondent_type == "student":
        demo = _draw_demographics(school, schools.band, config.demographics_share, rng)
    return _People(ins, school, ids, present, dev, idev, skip_p, demo)


def _respondent_ids(prefix: str, school: np.ndarray, school_ids: list[str]) -> list[str]:
    """``T-SCH-0001-0001``: numbered within the school in order of first appearance."""
    order = np.argsort(school, kind="stable")
    starts = np.searchsorted(school[order], school[order], side="left")
    number = np.empty(school.size, dtype=np.int64)
    number[order] = np.arange(school.size) - starts + 1
    return [f"{prefix}-{school_ids[s]}-{n:04d}" for s, n in zip(school.tolist(), number.tolist(), strict=True)]


def _draw_demographics(school: np.ndarray, bands: list[str], share: float,
                       rng: np.random.Generator) -> list[dict | None]:
    n = school.size
    lo = np.array([GRADES[bands[s]][0] for s in school.tolist()], dtype=np.int64)
    hi = np.array([GRADES[bands[s]][1] for s in school.tolist()], dtype=np.int64)
    grade = rng.integers(lo, hi + 1).tolist()
    cols = {"grade": grade}
    for name, dist in DEMOGRAPHICS.items():
        p = np.array(list(dist.values()))
        cols[name] = rng.choice(list(dist), size=n, p=p / p.sum()).tolist()
    has = (rng.random(n) < share).tolist()
    blank = rng.random((n, 4)) < 0.03  # a field left unanswered
    blank[:, 0] = False  # the grade comes from the roster, so it is always there when any field is
    out: list[dict | None] = []
    for i in range(n):
        if not has[i]:
            out.append(None)
            continue
        out.append({k: (None if blank[i, j] else cols[k][i]) for j, k in enumerate(DEMOGRAPHIC_COLUMNS)})
    return out


def _draw_slots(school_year: str, term: str, n_schools: int, rng: np.random.Generator) -> dict:
    """Each school's administration slot inside the term window (first day offset), and the window."""
    start, end = term_window(school_year, term)
    first = np.datetime64(start, "D")
    span = int((np.datetime64(end, "D") - first).astype(np.int64)) + 1
    slot = min(SLOT_DAYS, span)
    offsets = rng.integers(0, max(1, span - slot - 4), size=n_schools)
    start_ms = int(first.astype("datetime64[ms]").astype(np.int64))
    return {"offset": offsets, "slot": slot, "span": span, "start_ms": start_ms,
            "end_ms": start_ms + span * MS_PER_DAY - 1}


def _submission_times(slots: dict, school: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Epoch milliseconds: a weekday in the school's slot, during US school hours (12:00–21:30 UTC)."""
    day = slots["offset"][school] + rng.integers(0, slots["slot"], size=school.size)
    weekday = (slots["start_ms"] // MS_PER_DAY + day + 3) % 7  # 0 = Monday (1970-01-01 was a Thursday)
    day = np.minimum(day + np.where(weekday == 5, 2, 0) + np.where(weekday == 6, 1, 0), slots["span"] - 1)
    tod = rng.integers(12 * 3_600_000, 21 * 3_600_000 + 1_800_000, size=school.size)
    return np.clip(slots["start_ms"] + day * MS_PER_DAY + tod, slots["start_ms"], slots["end_ms"])


def _thetas(schools: _Schools, people: _People, rows: np.ndarray, frac: float) -> np.ndarray:
    """True measures (n, 4) of persons ``rows`` at a point ``frac`` of the way from fall to spring."""
    s = people.school[rows]
    return schools.base[s] + schools.growth[s] * frac + people.dev[rows] + people.idev[rows] * frac


def _term_fraction(term: str) -> float:
    """0 in fall, 1 in spring, linear in the term order of terms.csv in between."""
    orders = {t: int(r["term_order"]) for t, r in term_windows().items()}
    lo, hi = min(orders.values()), max(orders.values())
    return (orders[term] - lo) / (hi - lo) if hi > lo else 0.0


def draw_pcm(theta: np.ndarray, thresholds: np.ndarray, rng: np.random.Generator,
             chunk: int = 20_000) -> np.ndarray:
    """Partial credit model draws: ``theta`` (n, I) per person × item, ``thresholds`` (I, M) NaN-padded.

    P(X = k) ∝ exp(k·θ − Σ_{j≤k} δ_ij). Returns int8 (n, I) categories.
    """
    n_items, steps = thresholds.shape
    eta = np.concatenate([np.zeros((n_items, 1)), np.cumsum(np.nan_to_num(thresholds), axis=1)], axis=1)
    valid = np.concatenate([np.ones((n_items, 1), bool), ~np.isnan(thresholds)], axis=1)
    cats = np.arange(steps + 1, dtype=float)
    out = np.empty(theta.shape, dtype=np.int8)
    for lo in range(0, theta.shape[0], chunk):
        t = theta[lo:lo + chunk]
        logit = np.where(valid[None], t[:, :, None] * cats - eta[None], -np.inf)
        logit -= logit.max(axis=2, keepdims=True)
        cum = np.cumsum(np.exp(logit), axis=2)
        u = rng.random((t.shape[0], n_items, 1)) * cum[:, :, -1:]
        out[lo:lo + chunk] = (u > cum).sum(axis=2)
    return out


def _term_block(config: SimConfig, schools: _Schools, people: _People, thresholds: np.ndarray, t: int,
                slots: dict, rng: _Streams) -> list[tuple]:
    """Encoded submissions of one instrument in one term: one per respondent plus the second answers."""
    term = config.terms[t]
    rows = np.flatnonzero(people.present[:, t])
    twice = np.flatnonzero(rng.extras.random(rows.size) < config.double_answer_share)
    sub_rows = np.concatenate([rows, rows[twice]])
    comp_idx = np.array([COMPONENTS.index(i.component) if i.component in COMPONENTS else 0
                         for i in people.ins.items])
    theta = _thetas(schools, people, sub_rows, _term_fraction(term))[:, comp_idx]
    resp = draw_pcm(theta, thresholds, rng.responses)
    resp[rng.responses.random(resp.shape) < people.skip_p[sub_rows, None]] = -1
    times = _submission_times(slots, people.school[rows], rng.timing)
    later = times[twice] + rng.timing.integers(600_000, 3 * MS_PER_DAY, size=twice.size)
    later = np.maximum(np.minimum(later, slots["end_ms"]), times[twice] + 1)
    times = np.concatenate([times, later])
    weights = _weights(schools, people, rows, twice)
    kinds = ["original"] * rows.size + ["double_answer"] * twice.size
    return _encode(config, schools, people, term, sub_rows, resp, times, weights, kinds, rng.timing)


def _weights(schools: _Schools, people: _People, rows: np.ndarray, twice: np.ndarray) -> np.ndarray | None:
    """National-sample weights (NaN elsewhere): population of the region × grade band cell over the
    cell's respondents this term, times the school's non-response factor."""
    s = people.school[rows]
    national = np.array([schools.sample[i] == "national" for i in s.tolist()], dtype=bool)
    if not national.any():
        return None
    name = people.ins.name
    pop = {r["level"]: float(r["total"]) for r in population_margins()
           if r["instrument"] == name and r["variable"] == "grade_band"}
    total = sum(pop.values()) or 1.0
    region_share = dict(zip(REGIONS, _margin_shares(name, "region", REGIONS), strict=True))
    cells = Counter((schools.region[i], schools.band[i]) for i in s[national].tolist())
    w = np.full(rows.size, np.nan)
    for j in np.flatnonzero(national).tolist():
        school = int(s[j])
        cell = (schools.region[school], schools.band[school])
        cell_pop = pop.get(cell[1], total / 3) * region_share[cell[0]]
        w[j] = cell_pop / cells[cell] * schools.nonresponse[school]
    return np.round(np.concatenate([w, w[twice]]), 4)


def _submission_ids(n: int, rng: np.random.Generator) -> list[str]:
    """Random version-4 UUIDs from the seeded generator."""
    raw = np.frombuffer(rng.bytes(16 * n), dtype=np.uint8).reshape(n, 16).copy()
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    out = []
    for h in (row.tobytes().hex() for row in raw):
        out.append(f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}")
    return out


def _encode(config: SimConfig, schools: _Schools, people: _People, term: str, sub_rows: np.ndarray,
            resp: np.ndarray, times: np.ndarray, weights: np.ndarray | None, kinds: list[str],
            rng: np.random.Generator) -> list[tuple]:
    """Build the v1 events as bytes: (sort_ms, seq, key, value, kind, reason) tuples."""
    ins = people.ins
    item_ids = ins.item_ids
    lookup = [*range(max(i.max_category for i in ins.items) + 1), None]  # index -1 (skipped) -> None
    stamps = [s + "Z" for s in np.datetime_as_string(times.astype("datetime64[ms]"), unit="ms").tolist()]
    sids = _submission_ids(sub_rows.size, rng)
    wlist = weights.tolist() if weights is not None else None
    keys = [sid.encode() for sid in schools.ids]
    school_of = people.school[sub_rows].tolist()
    out = []
    for j, (p, row) in enumerate(zip(sub_rows.tolist(), resp.tolist(), strict=True)):
        s = school_of[j]
        event = {"submission_id": sids[j], "instrument": ins.name, "instrument_version": ins.version,
                 "school_id": schools.ids[s], "respondent_id": people.ids[p], "school_year": config.school_year,
                 "term": term, "submitted_at": stamps[j], "grade_band": schools.band[s],
                 "sample": schools.sample[s], "region": schools.region[s], "urbanicity": schools.urban[s]}
        if wlist is not None and wlist[j] == wlist[j]:  # NaN != NaN: not national
            event["weight"] = wlist[j]
        if people.demographics is not None and people.demographics[p] is not None:
            event["demographics"] = people.demographics[p]
        event["responses"] = dict(zip(item_ids, map(lookup.__getitem__, row), strict=True))
        out.append((int(times[j]), 0, keys[s], orjson.dumps(event), kinds[j], None))
    return out


def _resubmissions(pending: list[tuple], share: float, rng: np.random.Generator) -> list[tuple]:
    """The same bytes sent again 1 s – 2 min later (a client retry)."""
    if share <= 0 or not pending:
        return []
    picks = np.flatnonzero(rng.random(len(pending)) < share)
    delays = rng.integers(1_000, 120_000, size=picks.size)
    return [(pending[i][0] + int(d), 1, pending[i][2], pending[i][3], "resubmission", None)
            for i, d in zip(picks.tolist(), delays.tolist(), strict=True)]


def _malformed(pending: list[tuple], share: float, catalog: Catalog, rng: np.random.Generator) -> list[tuple]:
    """``share`` of the final stream: corrupted copies (with fresh ids) of valid events, every reason
    in turn, in random order."""
    originals = [r for r in pending if r[4] == "original"]
    if share <= 0 or not originals:
        return []
    n = max(1, round(len(pending) * share / (1 - share)))
    reasons = [REASONS[i % len(REASONS)] for i in range(n)]
    reasons = [reasons[i] for i in rng.permutation(n).tolist()]
    templates = rng.integers(0, len(originals), size=n).tolist()
    ids = _submission_ids(n, rng)
    out = []
    for reason, t, sid in zip(reasons, templates, ids, strict=True):
        ms, _, key, value, _, _ = originals[t]
        event = orjson.loads(value)
        event["submission_id"] = sid
        out.append((ms + int(rng.integers(0, 60_000)), 2, key, MUTATORS[reason](event, catalog, rng), "malformed",
                    reason))
    return out


# --------------------------------------------------------------------------- malformed events


def _bad_json(e: dict, catalog: Catalog, rng: np.random.Generator) -> bytes:
    raw = orjson.dumps(e)
    variant = int(rng.integers(0, 4))
    if variant == 0:  # truncated in transit
        return raw[: int(rng.integers(1, len(raw) - 1))]
    if variant == 1:  # a JSON array, not an object
        return orjson.dumps([e])
    if variant == 2:  # not UTF-8 (latin-1 bytes from a legacy export)
        return b"\xff\xfe" + raw[2:]
    return raw.replace(b'"', b"'")  # Python repr instead of JSON


def _schema_violation(e: dict, catalog: Catalog, rng: np.random.Generator) -> bytes:
    variant = int(rng.integers(0, 6))
    if variant == 0:
        del e["respondent_id"]  # missing required field
    elif variant == 1:
        e["term"] = "summer"  # bad enum
    elif variant == 2:
        e["grade_band"] = 7  # wrong type
    elif variant == 3:
        e["responses"][next(iter(e["responses"]))] = "3"  # category as a string
    elif variant == 4:
        e["comment"] = "free text the schema does not allow"  # extra property
    else:
        e["submission_id"] = e["submission_id"].replace("-", "")[:30]  # not a UUID
    return orjson.dumps(e)


def _unknown_instrument(e: dict, catalog: Catalog, rng: np.random.Generator) -> bytes:
    if rng.random() < 0.5:
        e["instrument"] = "parent"
    else:
        e["instrument_version"] = "9.0"
    return orjson.dumps(e)


def _unknown_item(e: dict, catalog: Catalog, rng: np.random.Generator) -> bytes:
    e["responses"][f"{e['instrument'][0]}_zz{int(rng.integers(1, 99)):02d}"] = int(rng.integers(0, 5))
    return orjson.dumps(e)


def _category_out_of_range(e: dict, catalog: Catalog, rng: np.random.Generator) -> bytes:
    ins = catalog.get(e["instrument"], e["instrument_version"])
    item = ins.items[int(rng.integers(0, len(ins.items)))]
    e["responses"][item.item_id] = int(rng.choice([item.max_category + 1, item.max_category + 5, -1]))
    return orjson.dumps(e)


def _invalid_school_year(e: dict, catalog: Catalog, rng: np.random.Generator) -> bytes:
    first = int(e["school_year"][:4])
    second = (first + 2) % 100 if rng.random() < 0.5 else first % 100  # skips a year, or repeats one
    e["school_year"] = f"{first}-{second:02d}"
    return orjson.dumps(e)


def _invalid_timestamp(e: dict, catalog: Catalog, rng: np.random.Generator) -> bytes:
    date, _, clock = e["submitted_at"].partition("T")
    variant = int(rng.integers(0, 3))
    if variant == 0:
        e["submitted_at"] = f"{date[:4]}-13-{date[8:]}T{clock}"  # month 13
    elif variant == 1:
        e["submitted_at"] = f"{date[:4]}-02-30T{clock}"  # no such day
    else:
        e["submitted_at"] = f"{date}T25{clock[2:]}"  # hour 25
    return orjson.dumps(e)


MUTATORS = {
    "invalid_json": _bad_json,
    "schema_violation": _schema_violation,
    "unknown_instrument": _unknown_instrument,
    "unknown_item": _unknown_item,
    "category_out_of_range": _category_out_of_range,
    "invalid_school_year": _invalid_school_year,
    "invalid_timestamp": _invalid_timestamp,
}
assert set(MUTATORS) == set(REASONS), "every dead-letter reason needs a malformed-event generator"


# --------------------------------------------------------------------------- truth and counts


def _truth(config: SimConfig, instruments: list[Instrument], thresholds: dict, schools: _Schools,
           people: dict[str, _People]) -> Truth:
    items = []
    for ins in instruments:
        thr = thresholds[ins.name]
        for row, item in enumerate(ins.items):
            steps = thr[row, : item.max_category]
            items.append({"instrument": ins.name, "instrument_version": ins.version, "item_id": item.item_id,
                          "component": item.component, "location": float(steps.mean()),
                          "thresholds": steps.tolist()})
    fracs = {term: _term_fraction(term) for term in config.terms}
    school_rows = []
    for s, sid in enumerate(schools.ids):
        means = {term: dict(zip(COMPONENTS, (schools.base[s] + schools.growth[s] * f).tolist(), strict=True))
                 for term, f in fracs.items()}
        school_rows.append({"school_id": sid, "sample": schools.sample[s], "grade_band": schools.band[s],
                            "region": schools.region[s], "urbanicity": schools.urban[s], "mean_theta": means,
                            "growth": dict(zip(COMPONENTS, schools.growth[s].tolist(), strict=True))})
    return Truth(config.seed, config.school_year, tuple(config.terms), items, school_rows,
                 _respondent_truth(config, schools, people, fracs))


def _respondent_truth(config: SimConfig, schools: _Schools, people: dict[str, _People],
                      fracs: dict[str, float]) -> dict:
    cols: dict[str, list] = {"instrument": [], "school_id": [], "respondent_id": [], "term": []}
    thetas = []
    for name, ppl in people.items():
        for t, term in enumerate(config.terms):
            rows = np.flatnonzero(ppl.present[:, t])
            cols["instrument"] += [name] * rows.size
            cols["school_id"] += [schools.ids[s] for s in ppl.school[rows].tolist()]
            cols["respondent_id"] += [ppl.ids[r] for r in rows.tolist()]
            cols["term"] += [term] * rows.size
            thetas.append(_thetas(schools, ppl, rows, fracs[term]))
    theta = np.concatenate(thetas) if thetas else np.zeros((0, 4))
    out: dict = dict(cols)
    for j, c in enumerate(COMPONENTS):
        out[f"theta_{c}"] = theta[:, j].copy()
    return out


def _counts(records: list[SimRecord], people: dict[str, _People], config: SimConfig, n_schools: int) -> dict:
    kinds = Counter(r.kind for r in records)
    malformed = Counter(r.reason for r in records if r.reason is not None)
    respondents = {f"{name}/{term}": int(ppl.present[:, t].sum())
                   for name, ppl in people.items() for t, term in enumerate(config.terms)}
    return {"produced": len(records), "valid_unique": kinds["original"] + kinds["double_answer"],
            "resubmitted": kinds["resubmission"], "double_answers": kinds["double_answer"],
            "malformed": {r: malformed.get(r, 0) for r in REASONS}, "schools": n_schools,
            "respondents": respondents}


# --------------------------------------------------------------------------- writers


def write_jsonl(records: Iterable, path: str | Path) -> int:
    """Write record values one per line (malformed bytes as they are); returns the line count.

    Raises LeapError when the file cannot be written.
    """
    path = Path(path)
    count = 0

    def lines() -> Iterator[bytes]:
        nonlocal count
        for rec in records:
            value = rec[1]
            if b"\n" in value:
                raise ValueError("a record value contains a newline; it cannot be one JSONL line")
            count += 1
            yield value + b"\n"

    try:
        with path.open("wb") as fh:
            fh.writelines(lines())
    except OSError as exc:
        raise LeapError(f"cannot write {path}: {exc.strerror or exc}", hint="choose a writable output path") from None
    return count


class _Progress:
    """Prints ``produced n/total (p%)`` to stderr at every 10% of a long run."""

    def __init__(self, total: int | None, enabled: bool, label: str = "produced"):
        self.total, self.label = total, label
        self.enabled = enabled and (total is None or total >= 10_000)
        self.step = max(1, total // 10) if total else 50_000
        self.next = self.step

    def tick(self, n: int) -> None:
        if self.enabled and n >= self.next:
            pct = f" ({100 * n // self.total}%)" if self.total else ""
            print(f"{self.label} {n}/{self.total or '?'}{pct}", file=sys.stderr, flush=True)
            self.next += self.step


def produce(records: Iterable, settings, topic: str | None = None, progress: bool = True) -> int:
    """Send ``(key, value)`` records (e.g. :class:`SimRecord`) to Kafka, flush, return the count sent.

    Key = school id. Raises LeapError when the broker is unreachable or a send fails.
    """
    from kafka.errors import KafkaError

    from leap.broker import BROKER_HINT, make_producer

    topic = topic or settings.topic
    producer = make_producer(settings)
    total = len(records) if hasattr(records, "__len__") else None
    meter = _Progress(total, progress)
    failures: list = []
    sent = 0
    try:
        for rec in records:
            producer.send(topic, key=rec[0], value=rec[1]).add_errback(failures.append)
            sent += 1
            meter.tick(sent)
        producer.flush()
    except KafkaError as exc:
        raise LeapError(f"producing to {topic} on {settings.bootstrap_servers} failed: {exc}",
                        hint=BROKER_HINT) from None
    finally:
        producer.close()
    if failures:
        raise LeapError(f"{len(failures)} of {sent} records were not acknowledged by {topic}: {failures[0]}",
                        hint=BROKER_HINT)
    return sent


# --------------------------------------------------------------------------- partner bulk files


def csv_columns(catalog: Catalog | None = None) -> list[str]:
    """Header of a partner CSV: event fields, demographics, then every item id of every instrument."""
    catalog = catalog or load_catalog()
    items: dict[str, None] = {}
    for name in catalog.names:
        items.update(dict.fromkeys(catalog.item_columns(name)))
    return CSV_BASE_COLUMNS + DEMOGRAPHIC_COLUMNS + list(items)


def event_to_csv_row(event: dict) -> dict[str, str]:
    """One v1 event as a CSV row (missing and null → empty cell)."""
    row = {k: _cell(event.get(k)) for k in CSV_BASE_COLUMNS}
    row.update({k: _cell(v) for k, v in (event.get("demographics") or {}).items()})
    row.update({k: _cell(v) for k, v in event["responses"].items()})
    return row


def _cell(value) -> str:
    return "" if value is None else repr(value) if isinstance(value, float) else str(value)


def write_partner_csv(events: Iterable[dict], path: str | Path, catalog: Catalog | None = None) -> int:
    """Write events as a wide partner CSV (format in the module docstring); returns the row count."""
    columns = csv_columns(catalog)
    n = 0
    try:
        with Path(path).open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=columns, extrasaction="raise")
            writer.writeheader()
            for event in events:
                writer.writerow(event_to_csv_row(event))
                n += 1
    except OSError as exc:
        raise LeapError(f"cannot write {path}: {exc.strerror or exc}") from None
    return n


def csv_row_to_event(row: Mapping[str, str], catalog: Catalog | None = None) -> dict:
    """A partner CSV row as a v1 event (see the module docstring for the rules)."""
    catalog = catalog or load_catalog()
    event: dict = {k: row[k] for k in CSV_BASE_COLUMNS if row.get(k)}
    if "weight" in event:
        event["weight"] = _number(event["weight"], float)
    demo = {k: row.get(k) or None for k in DEMOGRAPHIC_COLUMNS}
    if any(v is not None for v in demo.values()):
        demo["grade"] = _number(demo["grade"], int) if demo["grade"] is not None else None
        event["demographics"] = demo
    ins = catalog.get(row.get("instrument"), row.get("instrument_version"))
    own = set(ins.item_ids) if ins else set()
    skip = set(CSV_BASE_COLUMNS) | set(DEMOGRAPHIC_COLUMNS)
    event["responses"] = {k: (_number(v, int) if v else None) for k, v in row.items()
                          if k not in skip and k is not None and (v or k in own)}
    return event


def _number(text: str, kind: type):
    """Parse a number; leave the text as it is when it is not one (the validator will say so)."""
    try:
        return kind(text.strip())
    except ValueError:
        return text


def read_partner_file(path: str | Path, fmt: str | None = None,
                      catalog: Catalog | None = None) -> Iterator[tuple[bytes | None, bytes]]:
    """Yield ``(key, value)`` records of a partner bulk file: JSONL (one submission per line, bytes as
    they are) or CSV (rows converted to v1 events). Key = school id, or None when it cannot be read."""
    path = Path(path)
    fmt = fmt or ("csv" if path.suffix.lower() == ".csv" else "jsonl")
    if fmt not in ("jsonl", "csv"):
        raise LeapError(f"unknown partner file format {fmt!r}", hint="use --format jsonl or csv")
    try:
        fh = path.open("rb")
    except OSError as exc:
        raise LeapError(f"cannot read {path}: {exc.strerror or exc}", hint="check the path") from None
    with fh:
        if fmt == "jsonl":
            yield from _jsonl_records(fh)
        else:
            catalog = catalog or load_catalog()
            text = io.TextIOWrapper(fh, encoding="utf-8-sig", newline="")
            for row in csv.DictReader(text):
                event = csv_row_to_event(row, catalog)
                school = event.get("school_id")
                yield (school.encode() if isinstance(school, str) else None), orjson.dumps(event)


def _jsonl_records(fh) -> Iterator[tuple[bytes | None, bytes]]:
    for line in fh:
        value = line.rstrip(b"\r\n")
        if not value.strip():
            continue
        try:
            school = orjson.loads(value).get("school_id")
        except (orjson.JSONDecodeError, AttributeError):
            school = None
        yield (school.encode() if isinstance(school, str) else None), value


def produce_file(path: str | Path, settings, fmt: str | None = None, topic: str | None = None,
                 progress: bool = True, skip_invalid: bool = False) -> dict:
    """Produce a partner bulk file into Kafka; returns counts ``{"sent", "valid", "invalid": {reason: n}}``.

    Every record is checked with :func:`leap.events.check_submission` for the report; invalid ones
    are still sent (the ingestion dead-letters them with their reason, keeping one record of bad
    input) unless ``skip_invalid``.
    """
    from leap.events import Rejected, check_submission

    catalog = load_catalog()
    invalid: Counter = Counter()
    records = []
    for key, value in read_partner_file(path, fmt, catalog):
        try:
            check_submission(value, catalog)
        except Rejected as exc:
            invalid[exc.reason] += 1
            if skip_invalid:
                continue
        records.append((key, value))
    sent = produce(records, settings, topic=topic, progress=progress)
    return {"sent": sent, "valid": len(records) - (0 if skip_invalid else sum(invalid.values())),
            "invalid": dict(invalid)}
