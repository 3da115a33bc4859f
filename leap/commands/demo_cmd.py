"""`leap demo`: the main job end to end on the embedded default."""

from __future__ import annotations

from leap.config import load_settings


def register(sub) -> None:
    p = sub.add_parser("demo", help="run the main job end to end on the embedded default (broker, lake, ...)")
    p.add_argument("--seed", type=int, default=2024)
    p.add_argument("--schools", type=int, default=40, help="schools in the simulated school year (default 40)")
    p.add_argument("--school-year", default="2024-25")
    p.add_argument("--malformed-share", type=float, default=0.01)
    p.add_argument("--keep-broker", action="store_true",
                   help="leave the embedded broker running afterwards (stop it with `leap broker stop`)")
    p.set_defaults(func=_run)


def _run(args) -> int:
    from leap.pipeline import run_demo

    settings = load_settings()
    summary = run_demo(settings, seed=args.seed, schools=args.schools, malformed_share=args.malformed_share,
                       school_year=args.school_year, keep_broker=args.keep_broker)
    print(summary.render())
    ok = summary.landed + summary.duplicates >= 0 and summary.landed <= summary.valid_unique
    return 0 if ok else 1
