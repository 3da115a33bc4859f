"""`leap demo`: the main job end to end on the embedded default, through Airflow.

Brings up the embedded broker, simulates a school year, streams it through Kafka, then runs every
DAG (ingestion drain, validation, warehouse build, calibration, scoring, growth, partner refresh)
to completion through Airflow itself (`leap.orchestration.runner.run_all`). ``--direct`` runs the
same task functions in the same order without Airflow (`leap.orchestration.flows`), for debugging.
"""

from __future__ import annotations

from leap.config import load_settings


def register(sub) -> None:
    p = sub.add_parser("demo", help="run the main job end to end on the embedded default, through Airflow")
    p.add_argument("--seed", type=int, default=2024)
    p.add_argument("--schools", type=int, default=40, help="schools in the simulated school year (default 40)")
    p.add_argument("--school-year", default="2024-25")
    p.add_argument("--malformed-share", type=float, default=0.01)
    p.add_argument("--keep-broker", action="store_true",
                   help="leave the embedded broker running afterwards (stop it with `leap broker stop`)")
    p.add_argument("--direct", action="store_true", help="call the steps directly instead of through Airflow")
    p.set_defaults(func=_run)


def _run(args) -> int:
    from leap.orchestration.runner import run_all

    summary = run_all(load_settings(), school_year=args.school_year, seed=args.seed, schools=args.schools,
                      malformed_share=args.malformed_share, keep_broker=args.keep_broker,
                      through="direct" if args.direct else "airflow")
    print(summary.render())
    if summary.reports:  # where a person starts: the LEAP index of the last term rendered
        print(f"\nSchool reports: open {summary.reports[-1]['index']}")
    return 0
