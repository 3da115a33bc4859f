"""weights.cell_sums, the response sums' kernel, against a pandas group-by of the long form."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from weights import cell_sums
from weights.cell_sums import SKIPPED, category_sum_blocks, category_sums, item_totals


def _data(seed: int = 3, rows: int = 3000, items: int = 7, cells: int = 90):
    rng = np.random.default_rng(seed)
    cell = np.sort(rng.choice(np.arange(0, 3 * cells, 3), rows))  # sorted, with numbers no row has
    responses = rng.integers(0, 5, (rows, items)).astype(np.int8)
    responses[rng.random((rows, items)) < 0.1] = SKIPPED
    weights = rng.lognormal(0, 1, rows)
    return cell, responses, weights


def _long(cell, responses, weights) -> pd.DataFrame:
    rows, items = responses.shape
    return pd.DataFrame({"cell": np.repeat(cell, items), "item": np.tile(np.arange(items), rows),
                         "category": responses.ravel().astype(int), "w": np.repeat(weights, items)})


@pytest.mark.parametrize("block_bins", [cell_sums.BLOCK_BINS, 100, 1])
def test_sums_equal_a_group_by_of_the_long_form(monkeypatch, block_bins):
    monkeypatch.setattr(cell_sums, "BLOCK_BINS", block_bins)  # one block, several, one cell per block
    cell, responses, weights = _data()
    sums = category_sums(cell, responses, weights)
    long = _long(cell, responses, weights).assign(w2=lambda d: d["w"] ** 2)
    expected = long.groupby(["cell", "item", "category"]).agg(n=("w", "size"), w_sum=("w", "sum"),
                                                              w2_sum=("w2", "sum")).reset_index()
    assert len(expected) == len(sums.n) > 1000
    for column in ("cell", "item", "category", "n"):  # the same entries, in cell, item, category order
        np.testing.assert_array_equal(getattr(sums, column), expected[column].to_numpy())
    np.testing.assert_allclose(sums.w_sum, expected["w_sum"], rtol=1e-13)
    np.testing.assert_allclose(sums.w2_sum, expected["w2_sum"], rtol=1e-13)
    assert (sums.category == SKIPPED).any()


def test_blocks_hold_whole_cells_in_order(monkeypatch):
    """What the warehouse stores block by block: every cell in one block, blocks in cell order, and the
    blocks together the sums of the whole."""
    monkeypatch.setattr(cell_sums, "BLOCK_BINS", 500)
    cell, responses, weights = _data()
    blocks = list(category_sum_blocks(cell, responses, weights))
    assert len(blocks) > 5
    for before, after in zip(blocks, blocks[1:], strict=False):
        assert before.cell.max() < after.cell.min()
    whole = category_sums(cell, responses, weights)
    np.testing.assert_array_equal(np.concatenate([b.w_sum for b in blocks]), whole.w_sum)
    np.testing.assert_array_equal(np.concatenate([b.n for b in blocks]), whole.n)


def test_a_sum_adds_its_rows_in_their_order():
    """A bin's terms are added in row order (the caller's fixed order makes every build's bits the same):
    1 + 1e-16 + ... (ten times) in that order is 1; the same terms largest last are not."""
    terms = np.array([1.0] + [1e-16] * 10)
    cells, responses = np.zeros(11, dtype=np.int64), np.zeros((11, 1), dtype=np.int8)
    assert category_sums(cells, responses, terms).w_sum[0] == sum(terms.tolist()) == 1.0
    assert category_sums(cells, responses, terms[::-1].copy()).w_sum[0] == sum(terms[::-1].tolist()) > 1.0


def test_unweighted_sums_and_item_totals():
    cell, responses, _ = _data(seed=4)
    sums = category_sums(cell, responses)
    assert sums.w_sum is None and sums.w2_sum is None
    top = np.array([3, 2, 4, 3, 1, 3, 3])
    totals = item_totals(sums, top)
    long = _long(cell, responses, np.ones(len(cell)))
    long = long[long["category"] != SKIPPED].assign(top=lambda d: d["category"] >= top[d["item"]])
    expected = long.groupby(["cell", "item"]).agg(n=("w", "size"), n_top_box=("top", "sum"),
                                                  category_sum=("category", "sum")).reset_index()
    for column in ("cell", "item", "n", "n_top_box", "category_sum"):
        np.testing.assert_array_equal(getattr(totals, column), expected[column].to_numpy(), err_msg=column)


def test_empty_input_and_bad_input():
    empty = category_sums(np.empty(0, dtype=np.int64), np.empty((0, 3), dtype=np.int8), np.empty(0))
    assert empty.n.size == 0 and empty.w_sum.size == 0
    assert item_totals(empty, np.zeros(3, dtype=int)).n.size == 0
    with pytest.raises(ValueError, match="sorted"):
        category_sums(np.array([1, 0]), np.zeros((2, 1), dtype=np.int8))
    with pytest.raises(ValueError, match="below"):
        category_sums(np.array([0, 0]), np.array([[0], [-2]], dtype=np.int8))
    with pytest.raises(ValueError, match="one value per row"):
        category_sums(np.array([0, 0]), np.zeros((2, 1), dtype=np.int8), np.ones(3))
