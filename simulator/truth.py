"""The parameters behind a simulated stream (:class:`Truth`), for recovery tests, and writing them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import orjson

from leap.errors import LeapError
from simulator.config import COMPONENTS


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

