"""Run the whole platform on the embedded default: through Airflow, or the same flows directly.

:func:`init_airflow` sets up a local Airflow home under ``$LEAP_DATA_DIR/airflow`` (SQLite metadata
DB, the repo's ``dags/`` folder, no examples). :func:`run_dags` runs DAGs to completion through
Airflow (``dag.test()`` in a child process that reads that configuration), in dependency order.
:func:`run_all` is the main command (``leap demo``, ``leap airflow run-all``): broker up, a simulated
school year streamed through it, every DAG run (through Airflow, or as the plain flows of
:mod:`leap.orchestration.flows` with ``through="direct"``), then one
:class:`~leap.orchestration.summary.RunSummary`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from leap.config import Settings
from leap.errors import LeapError
from leap.orchestration.summary import RunSummary, summarize

REPO = Path(__file__).resolve().parents[2]
DAGS_FOLDER = REPO / "dags"

# Every DAG, in the order their assets chain them (what the scheduler would do on its own).
DAG_ORDER = ("leap_ingestion_drain", "leap_validation", "leap_warehouse_build", "leap_calibration",
             "leap_scoring", "leap_growth", "leap_school_reports", "leap_partner_refresh")


UI_PORT = 8080  # `leap airflow ui` default


def airflow_env(settings: Settings, *, port: int = UI_PORT) -> dict[str, str]:
    """The environment of the local Airflow home, the same for `run-all` and `ui` (so the DAGs
    serialize the same and keep one version): SQLite DB, the repo's DAGs, no examples; the API server
    on loopback at ``port`` and the tasks told where its execution API is (else they call :8080);
    as many task processes as cores; no retries (the local home fails fast; deployments keep the
    DAGs' production defaults of 2 retries, 5 minutes apart). ``airflow standalone`` starts its
    components as ``airflow`` from ``PATH``: this interpreter's bin folder goes first, so the venv's
    Airflow is found without activating the venv."""
    home = settings.layout.airflow_home
    bindir = str(Path(sys.executable).parent)
    base = f"http://127.0.0.1:{port}"
    return {**os.environ,
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__CORE__DAG_RUN_CONF_OVERRIDES_PARAMS": "True",
            "AIRFLOW__CORE__PARALLELISM": str(os.cpu_count() or 2),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__API__BASE_URL": base,
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{base}/execution/",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": os.environ.get("AIRFLOW__LOGGING__LOGGING_LEVEL", "INFO"),
            "LEAP_DATA_DIR": str(settings.data_dir),
            "LEAP_AIRFLOW_RETRIES": "0",
            "LEAP_AIRFLOW_RETRY_DELAY_SECONDS": "5",
            "PATH": os.pathsep.join(p for p in (bindir, os.environ.get("PATH", "")) if p),
            "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)}


def airflow_exe() -> str:
    exe = Path(sys.executable).with_name("airflow")
    return str(exe) if exe.exists() else "airflow"


def init_airflow(settings: Settings) -> Path:
    """Create or migrate the local Airflow home (idempotent; skipped when already at this version)."""
    from importlib.metadata import version

    home = settings.layout.airflow_home
    home.mkdir(parents=True, exist_ok=True)
    marker = home / ".leap-migrated"
    if marker.exists() and marker.read_text().strip() == version("apache-airflow") and (home / "airflow.db").exists():
        return home
    proc = subprocess.run([airflow_exe(), "db", "migrate"], env=airflow_env(settings), text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        raise LeapError(f"airflow db migrate failed:\n{proc.stdout[-3000:]}", hint=f"Airflow home: {home}")
    marker.write_text(version("apache-airflow") + "\n")
    return home


def default_plan(school_year: str, reference_term: str = "fall") -> list[dict]:
    """Every DAG with the conf of one school year (the same runs the assets would trigger)."""
    conf = {"leap_calibration": {"school_year": school_year, "term": reference_term},
            "leap_scoring": {"school_year": school_year},
            "leap_growth": {"school_year": school_year},
            "leap_school_reports": {"school_year": school_year},
            "leap_partner_refresh": {"school_year": school_year}}
    return [{"dag_id": d, "conf": conf.get(d, {})} for d in DAG_ORDER]


def run_dags(settings: Settings, plan: list[dict], *, log_to: Path | None = None) -> list[dict]:
    """Run DAGs in order through Airflow (``dag.test()`` in a child process); return each run's
    state, task states and XComs. The child's output goes to ``log_to``; its progress lines (a DAG
    starting, and its outcome with the time) are echoed to stderr as they come. Raises LeapError when a
    run does not succeed, naming the failed task and its own error."""
    from leap.orchestration.dagrun import PROGRESS

    init_airflow(settings)
    with tempfile.TemporaryDirectory(prefix="leap-airflow-") as tmp:
        plan_file, out_file = Path(tmp) / "plan.json", Path(tmp) / "result.json"
        plan_file.write_text(json.dumps(plan))
        log_to = log_to or settings.layout.airflow_home / "logs" / "run-dags.log"
        log_to.parent.mkdir(parents=True, exist_ok=True)
        with open(log_to, "w") as log:
            proc = subprocess.Popen([sys.executable, "-m", "leap.orchestration.dagrun", str(plan_file),
                                     str(out_file)], env=airflow_env(settings), stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, cwd=REPO, text=True, errors="replace")
            for line in proc.stdout:
                log.write(line)
                if line.startswith(PROGRESS):
                    print(line.rstrip(), file=sys.stderr, flush=True)
            proc.wait()
        results = json.loads(out_file.read_text()) if out_file.exists() else []
    if proc.returncode != 0:
        raise _run_failed(settings, [r for r in results if r["state"] != "success"], log_to)
    return results


def _run_failed(settings: Settings, failed: list[dict], log_to: Path) -> LeapError:
    """The failed DAG run as an error: the failed task(s) and the last exception in the run's log."""
    hint = f"the whole run's log: {log_to}; task logs under {settings.layout.airflow_home / 'logs'}"
    if not failed:
        return LeapError(f"Airflow run failed before any DAG ran:\n{_tail(log_to)}", hint=hint)
    tasks = [t for t, state in failed[-1]["tasks"].items() if state == "failed"] or ["(none marked failed)"]
    cause = _last_exception(log_to)
    return LeapError(f"Airflow run failed ({failed[-1]['dag_id']}): task {', '.join(tasks)} failed"
                     + (f": {cause}" if cause else ""), hint=hint)


def _last_exception(path: Path) -> str:
    """The last exception line of the last traceback in a log (what a failed task raised), or ''."""
    lines = _tail(path, 2000).splitlines()
    starts = [i for i, line in enumerate(lines) if line.lstrip().startswith("Traceback (most recent call last)")]
    if not starts:
        return ""
    indent = len(lines[starts[-1]]) - len(lines[starts[-1]].lstrip())
    for line in lines[starts[-1] + 1:]:
        body = line[indent:] if len(line) - len(line.lstrip()) >= indent else line
        if body and not body[0].isspace():
            return body.strip()
    return ""


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _step(name: str) -> None:
    print(f"==> {name}", file=sys.stderr, flush=True)


def _produce_school_year(settings: Settings, summary: RunSummary, *, seed: int, schools: int,
                         malformed_share: float) -> None:
    from ingestion.producer import produce
    from simulator import SimConfig, simulate

    t = time.perf_counter()
    _step(f"simulate and produce a school year ({schools} schools, seed {seed})")
    config = SimConfig(seed=seed, school_year=summary.school_year, malformed_share=malformed_share)
    sim = simulate(config.with_total_schools(schools))
    sim.truth.write(settings.layout.truth(summary.school_year, seed))
    summary.produced = produce(sim.records, settings, progress=False)
    _install_enrolment(settings, sim)
    summary.valid_unique = sim.valid_unique
    summary.seconds["simulate+produce"] = time.perf_counter() - t
    _step(f"produced {summary.produced:,} records in {summary.seconds['simulate+produce']:.1f} s")


def _install_enrolment(settings: Settings, sim) -> None:
    """The simulated rosters as the enrolment input, so the reports show response rates."""
    from dbt_project.inputs import install_enrolment
    from simulator import write_enrolment

    staged = settings.layout.inputs / "simulated-enrolment.csv"
    staged.parent.mkdir(parents=True, exist_ok=True)
    write_enrolment(sim.enrolment(), staged)
    install_enrolment(settings, staged)
    staged.unlink()


def run_all(settings: Settings, *, school_year: str = "2024-25", seed: int = 2024, schools: int = 40,
            malformed_share: float = 0.01, simulate: bool = True, keep_broker: bool = False,
            plan: list[dict] | None = None, through: str = "airflow") -> RunSummary:
    """Broker up, a simulated school year streamed through it, then every DAG, through Airflow
    (``through="airflow"``) or as the plain flows (``"direct"``)."""
    from ingestion.broker import ensure_topics
    from ingestion.embedded import embedded_broker
    from leap.orchestration.flows import run_direct

    summary = RunSummary(school_year=school_year, through=through)
    start = time.perf_counter()
    broker = embedded_broker(settings) if settings.embedded else None
    started = broker.start() if broker else False
    _step(f"broker: {broker.kind} (embedded, {'started' if started else 'already running'}) at {broker.bootstrap}"
          if broker else f"broker: Kafka at {settings.bootstrap_servers} (KAFKA_BOOTSTRAP_SERVERS)")
    try:
        ensure_topics(settings)
        if simulate:
            _produce_school_year(settings, summary, seed=seed, schools=schools, malformed_share=malformed_share)
        plan = plan or default_plan(school_year)
        if through == "airflow":
            t = time.perf_counter()
            _step("airflow: set up the local home (SQLite; the first time takes ~20 s)")
            init_airflow(settings)
            summary.seconds["airflow init"] = time.perf_counter() - t
            results = run_dags(settings, plan)
        else:
            results = run_direct(settings, plan, on_step=_step)
    finally:
        if started and not keep_broker:
            broker.stop()
    summarize(settings, results, summary)
    summary.seconds["total"] = time.perf_counter() - start
    summary.write(settings)
    return summary
