"""Scoring persons against given (anchored) item thresholds, with person fit and item displacement.

``responses`` ``(n_persons, n_items)`` integers, ``-1`` = missing; ``thresholds`` ``(n_items, max_steps)``
and ``n_steps`` ``(n_items,)`` as in :mod:`.params` (the scale and origin are those of the thresholds).
Item statistics use only persons with a non-extreme raw score. An item's displacement is the one-step
(Newton) change of its location that the new data ask for with persons held at their estimates:
``-sum(x - E) / sum(Var)`` logits; positive = the item behaves harder than its anchored value.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from functools import reduce
from operator import add

import numpy as np
import pandas as pd

from .fit import fit_sums, mean_squares, mean_squares_from_sums
from .params import log_eps_from_thresholds
from .patterns import group_patterns
from .wle import estimate_theta, moments, score_range

__all__ = ["ItemSums", "PersonEstimates", "RaschDataError", "score_batch", "score_responses"]


BATCH_PERSONS = 200_000  # persons scored at a time by score_responses


class RaschDataError(ValueError):
    """Responses that the item parameters cannot score; ``item`` and ``row`` (0-based) name the cell."""

    def __init__(self, message: str, item: int | None = None, row: int | None = None):
        super().__init__(message)
        self.item, self.row = item, row


@dataclass
class PersonEstimates:
    """Per-person arrays ``(n_persons,)``: WLE/MLE ``theta`` and ``se`` (NaN if nothing answered), raw
    score, number answered, infit/outfit MSQ and ZSTD (NaN for extreme scores), and the extreme flag."""

    theta: np.ndarray
    se: np.ndarray
    raw_score: np.ndarray
    n_answered: np.ndarray
    infit_msq: np.ndarray
    outfit_msq: np.ndarray
    infit_z: np.ndarray
    outfit_z: np.ndarray
    extreme: np.ndarray

    @classmethod
    def concat(cls, parts: list[PersonEstimates]) -> PersonEstimates:
        """The estimates of consecutive batches of persons, in order."""
        return cls(**{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(cls)})

    def to_frame(self, ids=None) -> pd.DataFrame:
        """The ``persons.csv`` table: id, raw_score, n_answered, theta, se, infit_msq, outfit_msq."""
        ids = np.arange(1, self.theta.size + 1) if ids is None else ids
        return pd.DataFrame(
            {
                "id": ids,
                "raw_score": self.raw_score,
                "n_answered": self.n_answered,
                "theta": self.theta,
                "se": self.se,
                "infit_msq": self.infit_msq,
                "outfit_msq": self.outfit_msq,
            }
        )


def unscorable_as_missing(responses: np.ndarray, thresholds: np.ndarray, n_steps: np.ndarray
                          ) -> tuple[np.ndarray, np.ndarray]:
    """Responses in a category the item parameters cannot score (a structural zero: no informative
    person used it when the items were calibrated) set to missing (-1); also returns their count per
    item ``(n_items,)``. Such a response says nothing about the person on this calibration."""
    resp = np.asarray(responses)
    allowed = np.isfinite(log_eps_from_thresholds(thresholds, n_steps))
    n_cats = allowed.shape[1]
    cols = np.arange(resp.shape[1])[None, :]
    bad = (resp >= n_cats) | ((resp >= 0) & ~allowed[cols, np.clip(resp, 0, n_cats - 1)])
    return np.where(bad, -1, resp), bad.sum(axis=0)


def _check_categories(resp: np.ndarray, log_eps: np.ndarray) -> None:
    allowed = np.isfinite(log_eps)
    n_cats = log_eps.shape[1]
    for i in range(resp.shape[1]):
        col = resp[:, i]
        bad = (col >= n_cats) | ((col >= 0) & ~allowed[i, np.clip(col, 0, n_cats - 1)])
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise RaschDataError(
                f"category {int(col[row])} is not in the item parameters (categories "
                f"{np.flatnonzero(allowed[i]).tolist()})",
                item=i,
                row=row,
            )


def score_responses(
    responses: np.ndarray,
    thresholds: np.ndarray,
    n_steps: np.ndarray,
    method: str = "wle",
    batch: int | None = None,
) -> tuple[PersonEstimates, pd.DataFrame]:
    """Score persons; returns the estimates and an item table (n, infit/outfit MSQ/ZSTD, displacement).

    Scored :data:`BATCH_PERSONS` persons at a time: a person's estimate and fit depend on their own
    responses only, and the item statistics are sums that add over batches, so memory is set by a batch
    (the person x item x category arrays of one batch), not by the data (646 MB a million persons at
    once, ~3 GB for the 4.8 million students of a ten-million-submission year). The estimates are the
    same bit for bit; the item statistics to the last bits of their sums."""
    resp = np.asarray(responses)
    batch = batch or BATCH_PERSONS
    _check_categories(resp, log_eps_from_thresholds(thresholds, n_steps))  # row numbers of the whole data
    parts = [score_batch(resp[start:start + batch], thresholds, n_steps, method)
             for start in range(0, max(resp.shape[0], 1), batch)]
    persons = PersonEstimates.concat([p for p, _ in parts])
    return persons, reduce(add, (s for _, s in parts)).table()


def score_batch(
    responses: np.ndarray,
    thresholds: np.ndarray,
    n_steps: np.ndarray,
    method: str = "wle",
) -> tuple[PersonEstimates, ItemSums]:
    """:func:`score_responses` for a batch of persons: the item statistics as sums, which add up over
    batches (a person's estimate depends on their own responses and the anchored items only)."""
    resp = np.asarray(responses)
    log_eps = log_eps_from_thresholds(thresholds, n_steps)
    _check_categories(resp, log_eps)
    groups = group_patterns(resp)
    n_scores = int(np.asarray(n_steps).sum()) + 1
    pidx, score, inverse = groups.unique_pairs(n_scores)
    masks_u = groups.masks[pidx]
    theta_u, se_u = estimate_theta(score, masks_u, log_eps, method=method)
    rmin, rmax = score_range(log_eps, masks_u)
    extreme_u = (score <= rmin) | (score >= rmax)
    mean_u, var_u, _, mu4_u = moments(np.nan_to_num(theta_u), log_eps, masks_u)
    observed = resp >= 0
    mean, var, mu4 = mean_u[inverse], var_u[inverse], mu4_u[inverse]
    extreme = extreme_u[inverse]
    pfit = mean_squares(resp, mean, var, mu4, observed, axis=1)
    for v in pfit.values():
        v[extreme] = np.nan
    keep = ~extreme
    items = ItemSums.of(resp[keep], mean[keep], var[keep], mu4[keep], observed[keep])
    persons = PersonEstimates(
        theta=theta_u[inverse], se=se_u[inverse], raw_score=groups.raw_score,
        n_answered=observed.sum(axis=1), extreme=extreme, **pfit,
    )
    return persons, items


@dataclass
class ItemSums:
    """Per-item sums over the non-extreme persons (``(n_items,)`` each): responses ``n``, residuals
    ``sum (x - E)``, information ``sum Var`` and the sums of :func:`.fit.fit_sums`. ``a + b`` is the
    sums of both sets of persons; :meth:`table` the item table they give."""

    n: np.ndarray
    resid: np.ndarray
    info: np.ndarray
    fit: dict[str, np.ndarray]

    @classmethod
    def of(cls, x, mean, var, mu4, observed) -> ItemSums:
        return cls(n=observed.sum(axis=0), resid=np.where(observed, x - mean, 0.0).sum(axis=0),
                   info=np.where(observed, var, 0.0).sum(axis=0),
                   fit=fit_sums(x, mean, var, mu4, observed, axis=0))

    def __add__(self, other: ItemSums) -> ItemSums:
        return ItemSums(self.n + other.n, self.resid + other.resid, self.info + other.info,
                        {k: v + other.fit[k] for k, v in self.fit.items()})

    def table(self) -> pd.DataFrame:
        """n, infit/outfit MSQ and ZSTD, displacement ``-sum (x - E) / sum Var`` and information."""
        with np.errstate(divide="ignore", invalid="ignore"):
            disp = -self.resid / self.info
        return pd.DataFrame({"n": self.n, **mean_squares_from_sums(self.fit), "displacement": disp,
                             "information": self.info})
