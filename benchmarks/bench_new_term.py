"""A new term's data: the warehouse build that follows it, against a build from scratch.

    .venv/bin/python benchmarks/bench_new_term.py DATA_DIR [--term spring]

DATA_DIR: a data directory kept by ``bench_pipeline.py --keep`` (validated lake of two terms, built
warehouse); it is changed (its warehouse rebuilt), so pass a copy. The term's validated files are moved
aside, the warehouse is built from scratch without them (``dbt_build(force=True)``), the files come back
as a new term would, and ``dbt_build`` runs as the chain runs it: the models incremental by school year x
term (dbt_project/macros/partitions.sql) rebuild that term's partitions only. Then a forced build from
scratch of the same data, for comparison. Writes benchmarks/out/new_term.json and prints the times.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--term", default="spring")
    args = parser.parse_args()
    os.environ["LEAP_DATA_DIR"] = str(args.data_dir.resolve())
    os.environ.setdefault("LEAP_PSEUDONYM_KEY", "42" * 32)
    from leap.config import load_settings
    from leap.orchestration.tasks import dbt_build

    settings = load_settings()
    term_dirs = sorted(settings.layout.validated.glob(f"instrument=*/school_year=*/term={args.term}"))
    if not term_dirs:
        raise SystemExit(f"no validated files of term {args.term} under {settings.layout.validated}")
    aside = args.data_dir / f".aside-{args.term}"
    moved = []
    for d in term_dirs:
        target = aside / d.relative_to(settings.layout.validated)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(d, target)
        moved.append((target, d))
    out = {"term": args.term}
    try:
        out["build_without_the_term_s"] = _timed(lambda: dbt_build(settings, force=True))[1]
    finally:
        for target, d in moved:
            shutil.move(target, d)
    result, out["build_after_the_new_term_s"] = _timed(lambda: dbt_build(settings))
    out["partitions_rebuilt"] = result["partitions"]
    out["build_from_scratch_s"] = _timed(lambda: dbt_build(settings, force=True))[1]
    print(json.dumps(out, indent=1))
    (ROOT / "benchmarks/out").mkdir(parents=True, exist_ok=True)
    (ROOT / "benchmarks/out/new_term.json").write_text(json.dumps(out, indent=1))


def _timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, round(time.perf_counter() - start, 1)


if __name__ == "__main__":
    main()
