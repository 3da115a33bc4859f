"""The submission registry (ingestion.registry) against a set of the ids it was given: which ids are new,
across processes sharing its folder, through merges of its levels and compaction, and when stored ids
share their high 64 bits (the lookup's slow path, which random digests ~never reach)."""

from __future__ import annotations

import numpy as np
import pytest

from ingestion import registry as reg
from ingestion.registry import SubmissionRegistry, digests


def _registry(root):
    return SubmissionRegistry(root, lambda batch: True)


def _levels_sorted(r: SubmissionRegistry) -> bool:
    return all(np.array_equal(level.d, level.d[np.lexsort((level.d[:, 1], level.d[:, 0]))]) for level in r.levels)


@pytest.mark.parametrize("compact_at", [reg.COMPACT_AT, 3])
def test_new_ids_are_those_no_process_stored_first_in_their_batch(tmp_path, monkeypatch, compact_at):
    monkeypatch.setattr(reg, "COMPACT_AT", compact_at)
    processes = [_registry(tmp_path / "ids"), _registry(tmp_path / "ids")]
    rng = np.random.default_rng(7)
    pool = [f"sub-{i}" for i in range(3000)]
    stored: set[str] = set()
    offsets = [0, 0]
    for k in range(24):
        p = k % 2
        batch = [pool[i] for i in rng.integers(0, len(pool), 150)]  # repeats within and across batches
        with processes[p].claiming() as r:
            keep, d = r.new_mask(batch)
            seen: set[str] = set()
            expected = []
            for i in batch:
                expected.append(i not in stored and i not in seen)
                seen.add(i)
            assert keep.tolist() == expected
            r.register(("c", p, offsets[p], offsets[p] + len(batch) - 1), d[keep])
        offsets[p] += len(batch)
        stored |= set(np.array(batch)[keep])
        assert _levels_sorted(processes[p])
    for r in processes:
        with r.claiming():
            assert len(r) == len(stored)
            assert not r.new_mask(sorted(stored))[0].any()


def test_stored_ids_sharing_their_high_words(tmp_path):
    r = _registry(tmp_path / "ids")
    hi = np.uint64(2**63 + 5)
    stored = np.array([[hi, 9], [hi, 2], [7, 1], [hi, 4], [3, 3]], dtype=np.uint64)
    with r.claiming():
        r.register(("c", 0, 0, 4), stored)
        assert _levels_sorted(r)
        asked = np.array([[hi, 2], [hi, 3], [hi, 9], [hi, 10], [7, 1], [7, 2], [8, 1], [0, 0], [2**64 - 1, 1]],
                         dtype=np.uint64)
        keep, _ = r.new_mask(["x"] * len(asked), asked)
    assert keep.tolist() == [False, True, False, True, False, True, True, True, True]


def test_sorted_orders_by_both_words():
    d = np.array([[5, 3], [1, 9], [5, 1], [2, 2], [5, 2]], dtype=np.uint64)
    assert reg._sorted(d).tolist() == [[1, 9], [2, 2], [5, 1], [5, 2], [5, 3]]
    random = digests(f"id-{i}" for i in range(1000))
    assert np.array_equal(reg._sorted(random), random[np.lexsort((random[:, 1], random[:, 0]))])


def test_a_compaction_of_empty_segments(tmp_path, monkeypatch):
    """Batches whose ids were all stored already write empty segments; compacted, they make an empty level."""
    monkeypatch.setattr(reg, "COMPACT_AT", 2)
    r = _registry(tmp_path / "ids")
    with r.claiming():
        for k in range(4):
            r.register(("c", 0, k, k), np.zeros((0, 2), dtype=np.uint64))
        assert r.new_mask(["a", "b", "a"])[0].tolist() == [True, True, False]
