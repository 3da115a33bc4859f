"""Per cell x item x category sums of a wide response matrix: the response sums of the warehouse.

The warehouse's estimates (macros/weighted_proportion.sql with ``summed=true``) read, per cell (a school x
grade band x sample, a school x subgroup level, a classroom) x item x category chosen, the respondents'
count ``n`` and their weights' sums ``sum w`` and ``sum w^2``. They were summed in SQL from the long form,
one row per respondent x item (25 M rows at a million submissions), by three hash aggregations that each
joined every row to its respondent on a text key. Here they are counted from the wide rows, one per
respondent, a column per item: the cell and the category make a bin number, and ``np.bincount`` adds each
row into its bin, item by item. No long form is written and no row is hashed: at a million submissions,
one thread, the school sums 13.5 s of the build (the long form's share included) -> ~4 s
(BENCHMARKS.md, "The response sums from the wide rows").

Determinism: ``np.bincount`` adds a bin's terms in row order, so a sum depends on the order of the rows,
and the caller gives a fixed one (its cells', then its respondents' ids): two builds give the same bits
whatever DuckDB's threads did, and a cell's sums do not depend on which partitions a build recomputed.
The sums are rounded as a float sum in that order (relative error ~1e-16 against the exact sum).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["CategorySums", "ItemTotals", "category_sum_blocks", "category_sums", "item_totals"]

SKIPPED = -1  # the response of a respondent who skipped the item
BLOCK_BINS = 1 << 22  # bins counted at a time (4 M: 32 MB per array): memory set by a block, not the data


@dataclass(frozen=True)
class CategorySums:
    """One entry per cell x item x category with at least one row, ordered by cell, item, category;
    ``category`` is SKIPPED for the rows that skipped the item. ``w_sum`` / ``w2_sum``: None when
    unweighted."""

    cell: np.ndarray
    item: np.ndarray
    category: np.ndarray
    n: np.ndarray
    w_sum: np.ndarray | None
    w2_sum: np.ndarray | None


@dataclass(frozen=True)
class ItemTotals:
    """Unweighted, per cell x item with at least one answer: answers, answers at or above the item's top
    box, and the sum of the categories chosen."""

    cell: np.ndarray
    item: np.ndarray
    n: np.ndarray
    n_top_box: np.ndarray
    category_sum: np.ndarray


def category_sums(cells: np.ndarray, responses: np.ndarray, weights: np.ndarray | None = None) -> CategorySums:
    """Sums of the rows per cell x item x category.

    ``cells (n,)``: each row's cell number, >= 0, non-decreasing (rows sorted by cell: a block of cells is
    a stretch of rows). ``responses (n, items)``: categories 0, 1, ... or SKIPPED. ``weights (n,)``: the
    rows' weights (``w_sum``, ``w2_sum``), or None. Raises ``ValueError`` for a response below SKIPPED or
    cells out of order."""
    return _concat(list(category_sum_blocks(cells, responses, weights)), weights is not None)


def category_sum_blocks(cells: np.ndarray, responses: np.ndarray, weights: np.ndarray | None = None):
    """:func:`category_sums` a block of whole cells at a time (BLOCK_BINS bins), in cell order: what a
    caller that stores the sums as they come holds is one block's (ten million submissions: ~37 M sums in
    all, 1.8 GB)."""
    cells = np.asarray(cells, dtype=np.int64)
    responses = np.asarray(responses)
    _check(cells, responses, weights)
    n_items = responses.shape[1]
    width = int(responses.max(initial=SKIPPED)) + 2  # bins per cell x item: skipped, then 0, 1, ...
    for lo, hi in _blocks(cells, max(1, BLOCK_BINS // (n_items * width))):
        yield _block_sums(cells[lo:hi], responses[lo:hi], None if weights is None else weights[lo:hi],
                          n_items, width)


def _check(cells: np.ndarray, responses: np.ndarray, weights) -> None:
    if responses.ndim != 2 or responses.shape[0] != cells.shape[0]:
        raise ValueError(f"responses must be (rows, items) with a row per cell number, got {responses.shape}")
    if weights is not None and np.shape(weights) != cells.shape:
        raise ValueError("weights must have one value per row")
    if cells.size and (cells[0] < 0 or np.any(np.diff(cells) < 0)):
        raise ValueError("cells must be non-negative and sorted (rows ordered by cell)")
    if responses.size and responses.min() < SKIPPED:
        raise ValueError(f"a response below {SKIPPED} (skipped): {int(responses.min())}")


def _blocks(cells: np.ndarray, cells_per_block: int):
    """Row ranges [lo, hi) covering whole cells, at most ``cells_per_block`` cells each."""
    if not cells.size:
        return
    first, last = int(cells[0]), int(cells[-1])
    for start in range(first, last + 1, cells_per_block):
        lo, hi = np.searchsorted(cells, [start, start + cells_per_block])
        if hi > lo:
            yield int(lo), int(hi)


def _block_sums(cells, responses, weights, n_items: int, width: int) -> CategorySums:
    """One block: bin = (cell - first) x width + response + 1 per item; counts and sums by bincount."""
    first = int(cells[0])
    base = (cells - first) * width + 1  # + 1: SKIPPED (-1) is the cell's bin 0
    n_bins = (int(cells[-1]) - first + 1) * width
    n = np.empty((n_items, n_bins), dtype=np.int64)
    w = w2 = None
    if weights is not None:
        w, w2 = np.empty((n_items, n_bins)), np.empty((n_items, n_bins))
        squares = weights * weights
    for j in range(n_items):
        key = base + responses[:, j]
        n[j] = np.bincount(key, minlength=n_bins)
        if weights is not None:
            w[j] = np.bincount(key, weights=weights, minlength=n_bins)
            w2[j] = np.bincount(key, weights=squares, minlength=n_bins)
    # (item, cell, category) -> ordered by cell, item, category
    order = lambda a: a.reshape(n_items, -1, width).transpose(1, 0, 2).ravel()  # noqa: E731
    n = order(n)
    hit = np.flatnonzero(n)
    cell, rest = np.divmod(hit, n_items * width)
    item, slot = np.divmod(rest, width)
    return CategorySums(cell + first, item, slot - 1, n[hit],
                        None if w is None else order(w)[hit], None if w2 is None else order(w2)[hit])


def _concat(parts: list[CategorySums], weighted: bool) -> CategorySums:
    if not parts:
        empty = np.empty(0, dtype=np.int64)
        return CategorySums(empty, empty, empty, empty, np.empty(0) if weighted else None,
                            np.empty(0) if weighted else None)
    cat = lambda name: np.concatenate([getattr(p, name) for p in parts])  # noqa: E731
    return CategorySums(cat("cell"), cat("item"), cat("category"), cat("n"),
                        cat("w_sum") if weighted else None, cat("w2_sum") if weighted else None)


def item_totals(sums: CategorySums, top_box_min: np.ndarray) -> ItemTotals:
    """The counts of ``sums`` per cell x item, over the categories answered (``top_box_min[item]``: the
    item's lowest top-box category). Exact: integer sums."""
    answered = sums.category != SKIPPED
    cell, item, category, n = (a[answered] for a in (sums.cell, sums.item, sums.category, sums.n))
    if not n.size:
        return ItemTotals(cell, item, n, n.copy(), n.copy())
    # entries are ordered by cell, item: a cell x item is a stretch, starting where either changes
    starts = np.flatnonzero(np.r_[True, (cell[1:] != cell[:-1]) | (item[1:] != item[:-1])])
    top = category >= np.asarray(top_box_min)[item]
    return ItemTotals(cell[starts], item[starts], np.add.reduceat(n, starts), np.add.reduceat(n * top, starts),
                      np.add.reduceat(n * category, starts))
