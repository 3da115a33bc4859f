"""`leap airflow init|run-all|ui`: the platform operated through Airflow 3 on the embedded default.

``init``     set up the local Airflow home under ``$LEAP_DATA_DIR/airflow`` (SQLite, the repo's DAGs);
``run-all``  broker up, a simulated school year streamed through it, every DAG run to completion
             through Airflow, then a summary and where the outputs are;
``ui``       print (or, with ``--launch``, run) the command that opens the Airflow UI locally.
"""

from __future__ import annotations

import os
import shlex

from leap.config import load_settings


def register(sub) -> None:
    p = sub.add_parser("airflow", help="run the platform's DAGs through Airflow (local home, run-all, UI)")
    asub = p.add_subparsers(dest="airflow_command", metavar="ACTION", required=True)
    i = asub.add_parser("init", help=f"set up the local Airflow home ({'$LEAP_DATA_DIR/airflow'}, SQLite)")
    i.set_defaults(func=_init)
    r = asub.add_parser("run-all", help="simulate a school year, stream it, run every DAG through Airflow")
    r.add_argument("--school-year", default="2024-25")
    r.add_argument("--seed", type=int, default=2024)
    r.add_argument("--schools", type=int, default=40, help="schools in the simulated school year (default 40)")
    r.add_argument("--malformed-share", type=float, default=0.01)
    r.add_argument("--no-simulate", action="store_true",
                   help="do not simulate: run the DAGs on what is in the topic and the lake")
    r.add_argument("--keep-broker", action="store_true", help="leave the embedded broker running afterwards")
    r.set_defaults(func=_run_all)
    u = asub.add_parser("ui", help="how to open the Airflow UI on the local home (--launch to start it)")
    u.add_argument("--port", type=int, default=8080, help="the UI's port on 127.0.0.1 (default 8080)")
    u.add_argument("--launch", action="store_true", help="run `airflow standalone` now (Ctrl-C to stop)")
    u.set_defaults(func=_ui)


def _init(args) -> int:
    from leap.orchestration.runner import init_airflow

    home = init_airflow(load_settings())
    print(f"Airflow home ready: {home} (SQLite metadata DB, DAGs from the repo's dags/)")
    return 0


def _run_all(args) -> int:
    from leap.orchestration.runner import run_all

    summary = run_all(load_settings(), school_year=args.school_year, seed=args.seed, schools=args.schools,
                      malformed_share=args.malformed_share, simulate=not args.no_simulate,
                      keep_broker=args.keep_broker)
    print(summary.render())
    return 0


def _ui(args) -> int:
    from leap.orchestration.runner import airflow_env, airflow_exe, init_airflow

    settings = load_settings()
    init_airflow(settings)
    env = airflow_env(settings, port=args.port)
    keys = ("AIRFLOW_HOME", "AIRFLOW__CORE__DAGS_FOLDER", "AIRFLOW__CORE__LOAD_EXAMPLES",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "AIRFLOW__CORE__DAG_RUN_CONF_OVERRIDES_PARAMS",
            "AIRFLOW__CORE__PARALLELISM", "AIRFLOW__API__HOST", "AIRFLOW__API__PORT", "AIRFLOW__API__BASE_URL",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL", "LEAP_DATA_DIR", "LEAP_AIRFLOW_RETRIES",
            "LEAP_AIRFLOW_RETRY_DELAY_SECONDS", "PATH", "PYTHONPATH")
    exports = " ".join(f"{k}={shlex.quote(env[k])}" for k in keys)
    print("Open the Airflow UI on the local home (SQLite; the DAG runs of `leap airflow run-all` are there):")
    print(f"  {exports} {airflow_exe()} standalone")
    print(f"  then browse http://127.0.0.1:{args.port} (user `admin`; the password is printed by standalone and "
          f"kept in {env['AIRFLOW_HOME']}/simple_auth_manager_passwords.json.generated)")
    print("  DAGs start paused: unpause the ones the scheduler should run on its own (toggle in the UI, or "
          "`airflow dags unpause leap_ingestion_drain` ... with the variables above); see docs/orchestration.md")
    if args.launch:
        os.execvpe(airflow_exe(), [airflow_exe(), "standalone"], env)
    return 0
