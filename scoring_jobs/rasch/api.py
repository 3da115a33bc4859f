"""Public Python API: :func:`calibrate` (CML item calibration + WLE persons + fit) and :func:`score`
(anchored scoring). Responses are ``(n_persons, n_items)``: float with NaN for missing, or integer with
``-1`` for missing; categories are integers from 0. Thresholds are ``(n_items, max_steps)`` logits on the
difficulty scale, step ``k`` (category ``k-1`` to ``k``) in column ``k-1``; origin = mean item location 0.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .anchored import PersonEstimates, RaschDataError, score_responses, unscorable_as_missing
from .cml import fit_cml
from .fit import disordered_items, separation_reliability
from .io import as_responses, write_csv

__all__ = ["MODELS", "Calibration", "NullCategoryWarning", "calibrate", "score", "items_frame"]

MODELS = ("pcm", "rsm")  # partial credit, rating scale
ORIGIN = "mean of the item locations is 0; item location = mean of its step thresholds (difficulty scale)"


class NullCategoryWarning(UserWarning):
    """A category no respondent used: kept as a structural zero, not collapsed into a neighbour."""


@dataclass
class Calibration:
    """Result of :func:`calibrate`. ``thresholds``/``se`` ``(n_items, max_steps)``; see module doc."""

    model: str
    item_names: list[str]
    thresholds: np.ndarray
    se: np.ndarray
    n_steps: np.ndarray
    location: np.ndarray
    location_se: np.ndarray
    loglik: float
    iterations: int
    converged: bool
    item_fit: pd.DataFrame
    persons: PersonEstimates
    reliability: float
    categories: pd.DataFrame
    warnings: list[str] = field(default_factory=list)
    tau: np.ndarray | None = None
    n_persons: int = 0
    weighted: bool = False

    def items_table(self) -> pd.DataFrame:
        """``items.csv``: item, step, threshold, se (NaN = not estimable, inf = null interior category)."""
        return items_frame(self.item_names, self.thresholds, self.se, self.n_steps)

    def summary(self) -> dict:
        """The ``summary.json`` content."""
        p = self.persons
        used = p.n_answered > 0
        return {
            "model": self.model,
            "estimation": "CML (items), WLE (persons)",
            "n_persons": int(self.n_persons),
            "n_persons_scored": int(used.sum()),
            "n_persons_extreme": int((p.extreme & used).sum()),
            "n_items": len(self.item_names),
            "n_responses": int(p.n_answered.sum()),
            "weighted": self.weighted,
            "conditional_loglik": self.loglik,
            "iterations": self.iterations,
            "converged": self.converged,
            "person_separation_reliability": self.reliability,
            "origin": ORIGIN,
            "rsm_tau": None if self.tau is None else [float(t) for t in self.tau],
            "warnings": self.warnings,
            "categories": self.categories.to_dict(orient="records"),
        }

    def to_dir(self, path, ids=None) -> Path:
        """Write items.csv, item_fit.csv, persons.csv, categories.csv and summary.json into ``path``."""
        out = Path(path)
        out.mkdir(parents=True, exist_ok=True)
        write_csv(self.items_table(), out / "items.csv")
        write_csv(self.item_fit, out / "item_fit.csv")
        write_csv(self.persons.to_frame(ids), out / "persons.csv")
        write_csv(self.categories, out / "categories.csv")
        (out / "summary.json").write_text(json.dumps(_jsonable(self.summary()), indent=2) + "\n")
        return out


def _jsonable(obj):
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.integer, np.bool_)):
        return obj.item()
    if isinstance(obj, (float, np.floating)):
        return None if not np.isfinite(obj) else float(obj)
    return obj


def items_frame(names, thresholds, se, n_steps) -> pd.DataFrame:
    rows = [
        (names[i], k, thresholds[i, k - 1], se[i, k - 1])
        for i in range(len(names))
        for k in range(1, int(n_steps[i]) + 1)
    ]
    return pd.DataFrame(rows, columns=["item", "step", "threshold", "se"])


def _names(item_names, n_items):
    names = [f"item{i + 1}" for i in range(n_items)] if item_names is None else [str(n) for n in item_names]
    if len(names) != n_items:
        raise ValueError(f"{len(names)} item names for {n_items} item columns")
    return names


def _category_table(names, counts, n_steps, thresholds) -> tuple[pd.DataFrame, list[str]]:
    disordered = disordered_items(thresholds)
    rows, notes = [], []
    for i, name in enumerate(names):
        for x in range(int(n_steps[i]) + 1):
            rows.append((name, x, float(counts[i, x]), bool(counts[i, x] == 0), bool(disordered[i])))
            if counts[i, x] == 0:
                notes.append(
                    f"item {name}: category {x} was never used; kept as a structural zero (not collapsed "
                    "into a neighbour), the adjacent step threshold(s) are reported as not estimable"
                )
    cols = ["item", "category", "count", "unused", "disordered_thresholds"]
    return pd.DataFrame(rows, columns=cols), notes


def calibrate(
    responses,
    model: str = "pcm",
    weights=None,
    item_names=None,
    n_steps=None,
    person_method: str = "wle",
) -> Calibration:
    """CML calibration of the PCM or RSM, then person estimates and fit against the calibrated items.

    ``weights`` ``(n_persons,)`` are case weights, rescaled to sum to the number of persons with a
    positive weight (model-based SEs; not a design-based variance). ``n_steps`` ``(n_items,)`` declares
    each item's highest category (default: highest observed) so an unused top category is detected.
    """
    if model not in MODELS:
        raise ValueError(f"model must be one of {MODELS}, not {model!r}")
    resp = as_responses(responses)
    names = _names(item_names, resp.shape[1])
    w = _weights(weights, resp.shape[0])
    try:
        res = fit_cml(resp, model=model, weights=w, n_steps=n_steps)
    except ValueError as exc:
        raise _named(exc, names) from exc
    scorable, unscorable = unscorable_as_missing(resp, res.thresholds, res.n_steps)
    persons, items = score_responses(scorable, res.thresholds, res.n_steps, method=person_method)
    categories, notes = _category_table(names, res.category_counts, res.n_steps, res.thresholds)
    for i in np.flatnonzero(unscorable):
        notes.append(f"item {names[i]}: {int(unscorable[i])} response(s) in a category only extreme scorers used "
                     "are treated as missing for the person measures")
    for note in notes:
        warnings.warn(note, NullCategoryWarning, stacklevel=2)
    if not res.converged:
        notes.append(f"CML did not converge in {res.iterations} iterations")
    item_fit = pd.DataFrame({"item": names, "location": res.location, "se": res.location_se})
    item_fit = pd.concat([item_fit, items[["infit_msq", "outfit_msq", "infit_z", "outfit_z"]]], axis=1)
    item_fit["n"] = (resp >= 0).sum(axis=0)
    keep = ~persons.extreme & (persons.n_answered > 0)
    rel = separation_reliability(persons.theta[keep], persons.se[keep])
    return Calibration(
        model=model, item_names=names, thresholds=res.thresholds, se=res.se, n_steps=res.n_steps,
        location=res.location, location_se=res.location_se, loglik=res.loglik, iterations=res.iterations,
        converged=res.converged, item_fit=item_fit, persons=persons, reliability=rel,
        categories=categories, warnings=notes, tau=res.tau, n_persons=resp.shape[0],
        weighted=weights is not None,
    )


def _weights(weights, n):
    if weights is None:
        return None
    w = np.asarray(weights, dtype=float)
    if w.shape != (n,):
        raise ValueError(f"weights must have shape ({n},), not {w.shape}")
    bad = np.flatnonzero(~np.isfinite(w) | (w < 0))
    if bad.size:
        raise RaschDataError(f"weight {w[bad[0]]!r} is not a finite non-negative number", row=int(bad[0]))
    return w * ((w > 0).sum() / w.sum())


def _named(exc: ValueError, names: list[str]) -> ValueError:
    msg = str(exc)
    for i in range(len(names) - 1, -1, -1):
        msg = msg.replace(f"item index {i} ", f"item {names[i]} ")
    return RaschDataError(msg)


def score(responses, thresholds, n_steps=None, method: str = "wle") -> PersonEstimates:
    """Anchored person estimates against ``thresholds`` ``(n_items, max_steps)`` (NaN-padded).

    ``n_steps`` defaults to the position of each item's last non-NaN step (pass it when an item has an
    unused top category, whose NaN steps look like padding). For the item
    displacement table use :func:`scoring_jobs.rasch.anchored.score_responses`.
    """
    thr = np.atleast_2d(np.asarray(thresholds, dtype=float))
    if n_steps is None:
        present = ~np.isnan(thr)
        n_steps = thr.shape[1] - np.argmax(present[:, ::-1], axis=1)
    return score_responses(as_responses(responses), thr, np.asarray(n_steps, int), method=method)[0]
