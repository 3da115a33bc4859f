"""The one HMAC: equal to the standard library's, and its key file created atomically under a race."""

from __future__ import annotations

import hmac
import multiprocessing as mp
import os

import pytest

from ingestion.pseudonym import Pseudonymizer, load_pseudonymizer
from leap.errors import LeapError


@pytest.mark.parametrize("key", [b"k" * 16, bytes(range(32)), b"x" * 64, b"long key " * 20])
def test_respondent_key_is_hmac_sha256(key):
    p = Pseudonymizer(key)
    for school, rid in (("SCH-1", "T-1"), ("", "é" * 100), ("SCH-0042", "S-SCH-0042-0007")):
        expected = hmac.digest(key, f"{school}\x1f{rid}".encode(), "sha256").hex()[:32]
        assert p.respondent_key(school, rid) == expected


def test_short_or_empty_keys_are_refused(tmp_path, monkeypatch):
    with pytest.raises(LeapError, match="fewer than 16"):
        Pseudonymizer(b"")
    monkeypatch.delenv("LEAP_PSEUDONYM_KEY", raising=False)
    key_file = tmp_path / "pseudonym.key"
    key_file.write_text("")
    with pytest.raises(LeapError, match="fewer than 16"):
        load_pseudonymizer(key_file)


def _load(path: str, barrier, out) -> None:
    os.environ.pop("LEAP_PSEUDONYM_KEY", None)
    barrier.wait()
    p, where = load_pseudonymizer(__import__("pathlib").Path(path))
    out.put((p.key.hex(), "created now" in where))


@pytest.mark.parametrize("trial", range(8))
def test_many_processes_creating_the_key_at_once_agree(tmp_path, trial):
    """Twelve processes released together by a barrier (once 6 in 100 such trials read an empty key)."""
    n = 12
    ctx = mp.get_context("fork")
    barrier, out = ctx.Barrier(n), ctx.Queue()
    procs = [ctx.Process(target=_load, args=(str(tmp_path / "secrets" / "pseudonym.key"), barrier, out))
             for _ in range(n)]
    for p in procs:
        p.start()
    results = [out.get(timeout=30) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    keys = {k for k, _ in results}
    assert len(keys) == 1 and len(bytes.fromhex(keys.pop())) == 32
    assert sum(created for _, created in results) == 1
    assert not list((tmp_path / "secrets").glob(".*.tmp"))
