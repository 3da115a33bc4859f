"""What to simulate: :class:`SimConfig`, and the parameters of the generative model.

The vocabularies (samples, regions, urbanicities, grade bands, components) come from the instrument
definition; what is set here are the *model's* parameters: how schools of each sample differ, how
large persons' spread and growth are, how the stream misbehaves.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field

from leap import instrument
from leap.errors import LeapError

# Vocabularies, from the instrument definition (their order fixes the order of the random draws).
SAMPLES = tuple(instrument.samples())
REGIONS = tuple(instrument.margin_levels("region"))
URBANICITY = tuple(instrument.margin_levels("urbanicity"))
BANDS = tuple(instrument.grade_bands())
COMPONENTS = tuple(instrument.components())
GRADES = {band: instrument.surveyed_grades(band) for band in BANDS}
# Model parameters, per sample and component (LF, LD, LL, LC).
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
# Class sections: a school has at least MIN_SECTIONS; a teacher reports on 1 + Binomial(min(EXTRA_SECTIONS,
# sections - 1), EXTRA_SECTION_P) of them (at most 1 + EXTRA_SECTIONS = 4): subject teachers teach several
# sections, so most sections are reported on by several teachers.
MIN_SECTIONS = 2
EXTRA_SECTIONS, EXTRA_SECTION_P = 3, 0.6
# Response rate of a school (respondents over enrolment) ~ Beta(5, 2): three schools in four between
# 60 % and 95 %, about one in ten below 50 %. The floor keeps a freak draw from a huge roster.
RESPONSE_RATE_BETA = (5.0, 2.0)
MIN_RESPONSE_RATE = 0.05



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
    students_per_classroom: int = 22  # mean class section size: sections = max(2, round(students / this))
    classroom_share: float = 0.97  # respondents whose events carry classroom_ids (a real feed omits some)
    instruments: tuple[str, ...] = ("teacher", "student")

    def validate(self) -> None:
        """Raise LeapError for settings that cannot produce a meaningful stream."""
        _check_year(self.school_year)
        known = set(instrument.terms())
        if not self.terms or any(t not in known for t in self.terms) or len(set(self.terms)) < len(self.terms):
            raise LeapError(f"terms must be distinct terms of {sorted(known)}, got {list(self.terms)}")
        if set(self.n_schools) - set(SAMPLES) or any(int(n) < 0 for n in self.n_schools.values()):
            raise LeapError(f"n_schools takes non-negative counts for {list(SAMPLES)}, got {dict(self.n_schools)}")
        if self.teachers_per_school < 0 or self.students_per_school < 0:
            raise LeapError("teachers and students per school must not be negative")
        if self.students_per_classroom < 1:
            raise LeapError(f"students_per_classroom = {self.students_per_classroom} must be at least 1")
        for name in ("malformed_share", "resubmission_share", "double_answer_share", "skip_share",
                     "attrition", "arrivals", "demographics_share", "classroom_share"):
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

