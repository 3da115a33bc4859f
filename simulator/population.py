"""Schools, rosters, demographics, administration slots and weights of a simulated school year."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from leap.instrument import Instrument, population_margins, term_window, terms
from simulator.config import (
    BANDS,
    BASE_MEAN,
    COMPONENT_CORR,
    DEMOGRAPHICS,
    EXTRA_SECTION_P,
    EXTRA_SECTIONS,
    GRADES,
    GROWTH_MEAN,
    GROWTH_SD,
    INDIVIDUAL_GROWTH_SD,
    LARGE_GROWTH_SHARE,
    MIN_RESPONSE_RATE,
    MIN_SECTIONS,
    MS_PER_DAY,
    PERSON_SD,
    REGIONS,
    RESPONSE_RATE_BETA,
    SAMPLE_EFFECT,
    SAMPLE_GEO,
    SAMPLES,
    SCHOOL_SD,
    SLOT_DAYS,
    URBANICITY,
    ZERO_GROWTH_SHARE,
    SimConfig,
)

DEMOGRAPHIC_FIELDS = ("grade", "gender", "race_ethnicity", "parent_education")

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
    # Streams added later go last: spawn(n)'s first children do not depend on n, so a new stream
    # moves no draw of the ones before it (same seed, same events apart from the new fields).
    classrooms: np.random.Generator
    enrolment: np.random.Generator

    @classmethod
    def from_seed(cls, seed: int) -> _Streams:
        children = np.random.SeedSequence(seed).spawn(9)
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
    classrooms: list[list[str] | None] | None = None  # per person: section ids on the events, or None


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
    base = BASE_MEAN + effects + _correlated_normal(rng, corr * SCHOOL_SD**2, n)
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


def _correlated_normal(rng: np.random.Generator, cov: np.ndarray, n: int) -> np.ndarray:
    """n draws of N(0, cov): z @ L.T with L the Cholesky factor (unique for a positive-definite cov).

    numpy's multivariate_normal factors by SVD, whose signs depend on the LAPACK build and the
    CPU's kernels: the same seed gave other draws on another machine of this kind.
    """
    return rng.standard_normal((n, cov.shape[0])) @ np.linalg.cholesky(cov).T


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
    dev = _correlated_normal(rng, cov, school.size)
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
        out.append({k: (None if blank[i, j] else cols[k][i]) for j, k in enumerate(DEMOGRAPHIC_FIELDS)})
    return out


def _section_counts(schools: _Schools, students: _People | None, per_classroom: int) -> np.ndarray:
    """Class sections per school: its students (everyone of the year) over the mean section size."""
    if students is None:
        n_students = np.zeros(len(schools))
    else:
        n_students = np.bincount(students.school, minlength=len(schools))
    return np.maximum(MIN_SECTIONS, np.rint(n_students / per_classroom)).astype(np.int64)


def _assign_classrooms(config: SimConfig, schools: _Schools, people: dict[str, _People],
                       rng: np.random.Generator) -> None:
    """Each person's sections (stable across terms): a student one, a teacher 1-4; a person's events
    carry them with probability ``classroom_share``. Sets ``_People.classrooms``."""
    students = next((p for p in people.values() if p.ins.respondent_type == "student"), None)
    counts = _section_counts(schools, students, config.students_per_classroom)
    names = [[f"{sid}-C{j:02d}" for j in range(1, n + 1)] for sid, n in zip(schools.ids, counts.tolist(),
                                                                              strict=True)]
    for ppl in people.values():
        draw = _student_sections if ppl.ins.respondent_type == "student" else _teacher_sections
        picks = draw(ppl.school, counts, rng)
        carries = (rng.random(ppl.school.size) < config.classroom_share).tolist()
        ppl.classrooms = [[names[s][j] for j in pick] if c else None
                          for s, pick, c in zip(ppl.school.tolist(), picks, carries, strict=True)]


def _student_sections(school: np.ndarray, counts: np.ndarray, rng: np.random.Generator) -> list[list[int]]:
    """One section per student, dealt round a shuffled roster so a school's sections have equal sizes."""
    order = np.argsort(school, kind="stable")
    bounds = np.searchsorted(school[order], np.arange(counts.size + 1))
    section = np.empty(school.size, dtype=np.int64)
    for s in range(counts.size):
        rows = order[bounds[s]:bounds[s + 1]]
        section[rows] = rng.permutation(rows.size) % counts[s]
    return [[j] for j in section.tolist()]


def _teacher_sections(school: np.ndarray, counts: np.ndarray, rng: np.random.Generator) -> list[list[int]]:
    """k = 1 + Binomial(min(3, n - 1), 0.6) distinct sections of the school's n, uniformly at random."""
    n = counts[school]
    k = 1 + rng.binomial(np.minimum(EXTRA_SECTIONS, n - 1), EXTRA_SECTION_P)
    keys = rng.random((school.size, int(n.max(initial=1))))
    keys[np.arange(keys.shape[1]) >= n[:, None]] = np.inf  # a school's own sections only
    ranked = np.argsort(keys, axis=1)
    return [sorted(row[:m].tolist()) for row, m in zip(ranked, k.tolist(), strict=True)]


def _response_rates(n_schools: int, rng: np.random.Generator) -> np.ndarray:
    """Each school's share of its enrolment that answers (one rate for every instrument and term)."""
    return np.maximum(MIN_RESPONSE_RATE, rng.beta(*RESPONSE_RATE_BETA, size=n_schools))


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
    order = terms()
    return order.index(term) / (len(order) - 1) if len(order) > 1 else 0.0


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


def submission_ids(n: int, rng: np.random.Generator) -> list[str]:
    """Random version-4 UUIDs from the seeded generator."""
    raw = np.frombuffer(rng.bytes(16 * n), dtype=np.uint8).reshape(n, 16).copy()
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    out = []
    for h in (row.tobytes().hex() for row in raw):
        out.append(f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}")
    return out
