"""The ingestion's submission registry (ingestion/registry.py) as a drain uses it: two processes' registries
on one folder, each checking and registering batches in turn and loading the other's segments.

    .venv/bin/python benchmarks/bench_registry.py [--ids 1000000] [--batch 20000]

Per batch, as a drain's writer does: the digests (BLAKE2b, once), the unlocked check (loads the segments
written since), then under the lock the check again and the registration of the new ids. A few ids of an
earlier batch come again in each (resubmissions). Prints and writes benchmarks/out/registry.json: seconds
in digests, checks and registrations, and the ids each registry holds at the end.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

from ingestion.registry import SubmissionRegistry, digests

ROOT = Path(__file__).resolve().parents[1]


def run(n_ids: int, batch: int) -> dict:
    root = Path(tempfile.mkdtemp()) / "ids"
    registries = [SubmissionRegistry(root, lambda b: True), SubmissionRegistry(root, lambda b: True)]
    rng = np.random.default_rng(1)
    ids = [str(uuid.UUID(int=int(x))) for x in rng.integers(0, 2**62, n_ids)]
    seconds = {"digests": 0.0, "checks": 0.0, "registrations": 0.0}
    offsets = [0, 0]
    for k in range(n_ids // batch):
        p = k % 2
        again = max(0, k - 3) * batch
        ids_k = ids[k * batch:(k + 1) * batch] + ids[again:again + batch // 100]
        t = time.perf_counter()
        d = digests(ids_k)
        seconds["digests"] += time.perf_counter() - t
        t = time.perf_counter()
        registries[p].provisional_mask(ids_k)
        with registries[p].claiming() as r:
            keep, _ = r.new_mask(ids_k, d)
            seconds["checks"] += time.perf_counter() - t
            t = time.perf_counter()
            r.register(("bench", p, offsets[p], offsets[p] + len(ids_k) - 1), d[keep])
            seconds["registrations"] += time.perf_counter() - t
        offsets[p] += len(ids_k)
    return {"ids": n_ids, "batch": batch, "seconds": {k: round(v, 3) for k, v in seconds.items()},
            "held": [len(r) for r in registries]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ids", type=int, default=1_000_000)
    ap.add_argument("--batch", type=int, default=20_000)
    args = ap.parse_args()
    out = run(args.ids, args.batch)
    print(json.dumps(out, indent=1))
    (ROOT / "benchmarks" / "out").mkdir(parents=True, exist_ok=True)
    (ROOT / "benchmarks" / "out" / "registry.json").write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
