"""The calibration id hashes the responses and ids in chunks (scoring_jobs.item_bank): it must equal the
hash of the whole int64 bytes and the joined ids it was defined on, so the same data keeps its id."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest

from scoring_jobs import item_bank


@pytest.mark.parametrize("arrow", [False, True], ids=["object", "arrow"])
@pytest.mark.parametrize("rows", [0, 1, 52, 53, 54, 200])
def test_chunked_fingerprint_equals_the_whole_one(monkeypatch, rows, arrow):
    """Object arrays of str, and the Arrow-backed strings the calibration reads its ids as."""
    monkeypatch.setattr(item_bank, "FINGERPRINT_ROWS", 53)
    rng = np.random.default_rng(rows)
    resp = rng.integers(-1, 5, (rows, 7)).astype(np.int8)
    ids = np.array([f"sub-{i:05d}-é{rng.integers(1000)}" for i in range(rows)], dtype=object)
    if arrow:
        ids = pd.array(ids, dtype="string[pyarrow]")
    whole = hashlib.sha256()
    for part in ["pcm", ["a", "b"], resp.astype(np.int64).tobytes(), "\n".join(ids).encode()]:
        whole.update(part if isinstance(part, bytes) else json.dumps(part, sort_keys=True).encode())
        whole.update(b"\x00")
    chunked = item_bank._fingerprint(["pcm", ["a", "b"], item_bank._response_bytes(resp), item_bank._id_bytes(ids)])
    assert chunked == whole.hexdigest()
