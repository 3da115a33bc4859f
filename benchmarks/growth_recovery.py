"""The growth estimators' coverage and false-positive rate over many simulated schools (weights.recovery).

    .venv/bin/python benchmarks/growth_recovery.py --schools 20000 --seed 1

Prints one row per design (all respondents with overlap; matched): coverage of the 95% intervals,
false-positive rate among zero-growth schools (t on df, and what 1.96 would give), power for growth of
5 points or more. Small schools (12-20 respondents) are where t and 1.96 part.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from weights.recovery import study, summary  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--schools", type=int, default=20000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--small", action="store_true", help="only small schools (12-20 respondents)")
    args = p.parse_args()
    t = time.perf_counter()
    results = study(args.schools, args.seed, sizes=(12, 20) if args.small else (12, 60))
    print(summary(results).round(4).to_string())
    print(f"{args.schools} schools in {time.perf_counter() - t:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
