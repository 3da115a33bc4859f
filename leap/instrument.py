"""The instrument definition: items, components, response categories, cut scores, margins.

All of it is data in ``leap/instrument_data/*.csv`` (versioned by ``instrument_version``).
The simulator, the event checks, the expectations, dbt (as seeds) and the scoring jobs read
these files and nothing else, so a real item bank drops in by replacing the CSVs.

The vocabularies every part uses are read from the same files, in their order columns: terms
(``terms.csv``), grade bands (``grade_bands.csv``), samples and partner networks (``samples.csv``),
components and which are scaled (``components.csv``), personalization levels (``cut_scores.csv``),
and the levels of the raking variables (``population_margins.csv``).

``LEAP_INSTRUMENT_DIR`` points at another directory with the same files.
"""

from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import pyarrow as pa

DEFAULT_DIR = Path(__file__).parent / "instrument_data"

_ITEM_ID = re.compile(r"[a-z][a-z0-9_]{0,31}")


def instrument_dir() -> Path:
    return Path(os.environ.get("LEAP_INSTRUMENT_DIR") or DEFAULT_DIR)


def _read(name: str) -> list[dict[str, str]]:
    from leap.errors import LeapError

    path = instrument_dir() / name
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            return list(csv.DictReader(fh))
    except FileNotFoundError:
        raise LeapError(f"instrument definition file missing: {path}",
                        hint="unset LEAP_INSTRUMENT_DIR or point it at a directory with the files of "
                             "leap/instrument_data/") from None


@dataclass(frozen=True)
class Item:
    item_id: str
    component: str
    position: int
    response_scale: str
    categories: tuple[str, ...]  # labels, index = category integer
    top_box_min: int
    wording: str
    # The item asks about the practice in the respondent's own classroom(s), so a classroom-level
    # report may use it; items.csv: is_classroom_indicator (older definitions without it: False).
    is_classroom_indicator: bool = False

    @property
    def max_category(self) -> int:
        return len(self.categories) - 1


@dataclass(frozen=True)
class Instrument:
    name: str
    version: str
    respondent_type: str
    title: str
    min_answered_share: float
    items: tuple[Item, ...]
    _by_id: dict[str, Item] = field(default_factory=dict, compare=False, repr=False)
    _item_set: frozenset[str] = field(default=frozenset(), compare=False, repr=False)
    _uniform_max: int | None = field(default=None, compare=False, repr=False)
    _allowed_values: frozenset = field(default=frozenset(), compare=False, repr=False)

    def item(self, item_id: str) -> Item | None:
        return self._by_id.get(item_id)

    @property
    def item_ids(self) -> list[str]:
        return [i.item_id for i in self.items]

    @property
    def item_set(self) -> frozenset[str]:
        return self._item_set

    @property
    def uniform_max(self) -> int | None:
        """The highest category when every item has the same number of categories, else None."""
        return self._uniform_max

    @property
    def allowed_values(self) -> frozenset:
        """With a uniform category count: {None, 0, ..., max}; used by the fast event check."""
        return self._allowed_values

    def scale_items(self, component: str) -> list[Item]:
        return [i for i in self.items if i.component == component]


@dataclass(frozen=True)
class Catalog:
    """Every instrument version in the definition, and the fixed Arrow schema per instrument."""

    instruments: dict[tuple[str, str], Instrument]
    components: dict[str, dict[str, str]]

    def get(self, name: str, version: str) -> Instrument | None:
        return self.instruments.get((name, version))

    @property
    def names(self) -> list[str]:
        return sorted({name for name, _ in self.instruments})

    def versions(self, name: str) -> list[Instrument]:
        return [ins for (n, _), ins in sorted(self.instruments.items()) if n == name]

    def latest(self, name: str) -> Instrument:
        return self.versions(name)[-1]

    def item_columns(self, name: str) -> list[str]:
        """Item columns of the raw table for an instrument: the union over its versions, in order."""
        seen: dict[str, None] = {}
        for ins in self.versions(name):
            for item in ins.items:
                seen.setdefault(item.item_id, None)
        return list(seen)

    def raw_schema(self, name: str) -> pa.Schema:
        return raw_schema(self.item_columns(name))


# Columns of a raw submissions file before the item columns. Partition columns (instrument,
# school_year, term) are kept inside the files too, so every file describes itself.
BASE_FIELDS: list[pa.Field] = [
    pa.field("submission_id", pa.string(), nullable=False),
    pa.field("instrument", pa.string(), nullable=False),
    pa.field("instrument_version", pa.string(), nullable=False),
    pa.field("school_id", pa.string(), nullable=False),
    pa.field("respondent_key", pa.string(), nullable=False),
    pa.field("school_year", pa.string(), nullable=False),
    pa.field("term", pa.string(), nullable=False),
    pa.field("submitted_at", pa.timestamp("us", tz="UTC"), nullable=False),
    pa.field("grade_band", pa.string(), nullable=False),
    pa.field("sample", pa.string(), nullable=False),
    pa.field("region", pa.string()),
    pa.field("urbanicity", pa.string()),
    pa.field("grade", pa.int8()),
    pa.field("gender", pa.string()),
    pa.field("race_ethnicity", pa.string()),
    pa.field("parent_education", pa.string()),
    # The class sections the response is about (event field classroom_ids); null = unknown. Files
    # written before it existed lack the column: readers take them by name (DuckDB union_by_name).
    pa.field("classroom_ids", pa.list_(pa.string())),
    pa.field("weight", pa.float64()),
    # Seconds the respondent took (event field duration_seconds); null = unknown. Files written before
    # it existed lack the column (read by name, as classroom_ids).
    pa.field("duration_seconds", pa.float64()),
    pa.field("kafka_partition", pa.int32(), nullable=False),
    pa.field("kafka_offset", pa.int64(), nullable=False),
    pa.field("ingested_at", pa.timestamp("us", tz="UTC"), nullable=False),
]
BASE_COLUMNS = [f.name for f in BASE_FIELDS]


def raw_schema(item_columns: list[str]) -> pa.Schema:
    """Explicit Arrow schema of a raw file: base columns then one nullable int8 per item."""
    return pa.schema(BASE_FIELDS + [pa.field(c, pa.int8()) for c in item_columns])


@lru_cache(maxsize=4)
def _load(directory: str) -> Catalog:  # noqa: ARG001 - the cache key: one catalog per directory
    scales: dict[str, dict[int, str]] = {}
    for row in _read("response_scales.csv"):
        scales.setdefault(row["response_scale"], {})[int(row["category"])] = row["label"]
    labels = {k: tuple(v[i] for i in range(len(v))) for k, v in scales.items()}
    items: dict[tuple[str, str], list[Item]] = {}
    for row in _read("items.csv"):
        key = (row["instrument"], row["instrument_version"])
        items.setdefault(key, []).append(
            Item(
                item_id=row["item_id"],
                component=row["component"],
                position=int(row["position"]),
                response_scale=row["response_scale"],
                categories=labels[row["response_scale"]],
                top_box_min=int(row["top_box_min"]),
                wording=row["wording"],
                is_classroom_indicator=_flag(row, "is_classroom_indicator"),
            )
        )
    instruments = {}
    for row in _read("instruments.csv"):
        key = (row["instrument"], row["instrument_version"])
        its = tuple(sorted(items.get(key, []), key=lambda i: i.position))
        instruments[key] = Instrument(
            name=key[0],
            version=key[1],
            respondent_type=row["respondent_type"],
            title=row["title"],
            min_answered_share=float(row["min_answered_share"]),
            items=its,
            _by_id={i.item_id: i for i in its},
            _item_set=frozenset(i.item_id for i in its),
            _uniform_max=(top := max(tops) if len(tops := {i.max_category for i in its}) == 1 else None),
            _allowed_values=frozenset([None, *range((top or 0) + 1)]),
        )
    components = {r["component"]: r for r in _read("components.csv")}
    bad = [i.item_id for its in instruments.values() for i in its.items if not _ITEM_ID.fullmatch(i.item_id)]
    if bad:
        raise ValueError(f"item ids must match {_ITEM_ID.pattern} (the event schema's pattern): {bad}")
    return Catalog(instruments=instruments, components=components)


def _flag(row: dict[str, str], column: str) -> bool:
    """A true/false column of a definition file; False when the file predates the column."""
    text = (row.get(column) or "false").strip().lower()
    if text not in ("true", "false"):
        raise ValueError(f"{column} must be true or false, got {row.get(column)!r} (item {row.get('item_id')})")
    return text == "true"


def load_catalog() -> Catalog:
    return _load(os.environ.get("LEAP_INSTRUMENT_DIR") or str(DEFAULT_DIR))


def cut_scores() -> list[dict[str, str]]:
    return _read("cut_scores.csv")


def demographic_levels() -> dict[str, list[str]]:
    """{variable: its levels} of the free-text demographics (demographic_levels.csv); the warehouse maps
    anything else to ``other_unknown``."""
    out: dict[str, list[str]] = {}
    for row in _read("demographic_levels.csv"):
        out.setdefault(row["variable"], []).append(row["level"])
    return out


def demographic_labels() -> dict[tuple[str, str], str]:
    """{(variable, level): label} of the demographic levels (demographic_levels.csv), for forms and reports."""
    return {(r["variable"], r["level"]): r["label"] for r in _read("demographic_levels.csv")}


def population_margins() -> list[dict[str, str]]:
    return _read("population_margins.csv")


def term_windows() -> dict[str, dict[str, str]]:
    return {r["term"]: r for r in _read("terms.csv")}


def term_window(school_year: str, term: str) -> tuple[str, str]:
    """Administration window of a term as ISO dates (inclusive), e.g. ('2024-08-01', '2024-11-30')."""
    row = term_windows()[term]
    first = int(school_year[:4])
    start = f"{first + int(row['window_start_year_offset'])}-{row['window_start_mmdd']}"
    end = f"{first + int(row['window_end_year_offset'])}-{row['window_end_mmdd']}"
    return start, end


# --------------------------------------------------------------------------- vocabularies


def _ordered(name: str, key: str, order: str) -> list[str]:
    rows = sorted(_read(name), key=lambda r: int(r[order]))
    return list(dict.fromkeys(r[key] for r in rows))


def terms() -> list[str]:
    """Terms in administration order (``terms.csv: term_order``)."""
    return _ordered("terms.csv", "term", "term_order")


def term_order(term: str) -> int:
    """Position of a term in the school year (fall before winter before spring); 99 when unknown."""
    names = terms()
    return names.index(term) if term in names else 99


def grade_bands() -> list[str]:
    return _ordered("grade_bands.csv", "grade_band", "band_order")


def surveyed_grades(band: str) -> tuple[int, int]:
    """(lowest, highest) grade surveyed in a grade band."""
    row = next(r for r in _read("grade_bands.csv") if r["grade_band"] == band)
    return int(row["lowest_surveyed_grade"]), int(row["highest_surveyed_grade"])


def _samples() -> list[dict[str, str]]:
    return _read("samples.csv")


def samples() -> list[str]:
    return [r["sample"] for r in _samples()]


def partner_samples() -> list[str]:
    """Samples that are partner networks receiving scheduled refreshes (``samples.csv: is_partner``)."""
    return [r["sample"] for r in _samples() if r["is_partner"].lower() == "true"]


def components() -> list[str]:
    return [r["component"] for r in _read("components.csv")]


def scaled_components() -> list[str]:
    """The components with a Rasch scale (``components.csv: is_scaled``): LF, LD, LL."""
    return [r["component"] for r in _read("components.csv") if r["is_scaled"].lower() == "true"]


def levels() -> list[str]:
    """Personalization levels, lowest first (``cut_scores.csv: level_order``)."""
    return _ordered("cut_scores.csv", "level", "level_order")


def level_order(level: str | None) -> int | None:
    """1 for the lowest level; None for no level."""
    names = levels()
    return names.index(level) + 1 if level in names else None


def margin_levels(variable: str) -> list[str]:
    """The levels of a raking variable (region, grade_band, urbanicity), in the margins file's order."""
    return list(dict.fromkeys(r["level"] for r in population_margins() if r["variable"] == variable))


def component_names() -> dict[str, str]:
    """Component code -> its name (``components.csv``): LF -> Learner Focused."""
    return {r["component"]: r["component_name"] for r in _read("components.csv")}


def sample_names() -> dict[str, str]:
    """Sample code -> its name (``samples.csv``): nextgen -> NextGen schools."""
    return {r["sample"]: r["sample_name"] for r in _samples()}
