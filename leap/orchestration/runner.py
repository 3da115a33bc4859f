"""Run the whole platform through Airflow on the embedded default.

:func:`init_airflow` sets up a local Airflow home under ``$LEAP_DATA_DIR/airflow`` (SQLite metadata
DB, the repo's ``dags/`` folder, no examples). :func:`run_dags` runs DAGs to completion through
Airflow (``dag.test()`` in a child process that reads that configuration), in dependency order.
:func:`run_all_dags` is the main command: broker up, a simulated school year streamed through it,
every DAG run, then a :class:`RunAllSummary` read from the DAG results and the published marts.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from leap.config import Settings
from leap.errors import LeapError

REPO = Path(__file__).resolve().parents[2]
DAGS_FOLDER = REPO / "dags"

# Every DAG, in the order their assets chain them (what the scheduler would do on its own).
DAG_ORDER = ("leap_ingestion_drain", "leap_validation", "leap_warehouse_build", "leap_calibration",
             "leap_scoring", "leap_growth", "leap_partner_refresh")


def airflow_home(settings: Settings) -> Path:
    return settings.data_dir / "airflow"


def airflow_env(settings: Settings, *, retries: int = 0) -> dict[str, str]:
    """The environment of the local Airflow: home, SQLite DB, dags folder, no examples."""
    home = airflow_home(settings)
    return {**os.environ,
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__CORE__DAG_RUN_CONF_OVERRIDES_PARAMS": "True",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": os.environ.get("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING"),
            "LEAP_DATA_DIR": str(settings.data_dir),
            "LEAP_AIRFLOW_RETRIES": str(retries),
            "LEAP_AIRFLOW_RETRY_DELAY_SECONDS": "5",
            "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)}


def airflow_exe() -> str:
    exe = Path(sys.executable).with_name("airflow")
    return str(exe) if exe.exists() else "airflow"


def init_airflow(settings: Settings) -> Path:
    """Create or migrate the local Airflow home (idempotent; skipped when already at this version)."""
    from importlib.metadata import version

    home = airflow_home(settings)
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
            "leap_partner_refresh": {"school_year": school_year}}
    return [{"dag_id": d, "conf": conf.get(d, {})} for d in DAG_ORDER]


def run_dags(settings: Settings, plan: list[dict], *, log_to: Path | None = None) -> list[dict]:
    """Run DAGs in order through Airflow (``dag.test()`` in a child process); return each run's
    state, task states and XComs. Raises LeapError when a run does not succeed."""
    init_airflow(settings)
    with tempfile.TemporaryDirectory(prefix="leap-airflow-") as tmp:
        plan_file, out_file = Path(tmp) / "plan.json", Path(tmp) / "result.json"
        plan_file.write_text(json.dumps(plan))
        log_to = log_to or airflow_home(settings) / "logs" / "run-dags.log"
        log_to.parent.mkdir(parents=True, exist_ok=True)
        with open(log_to, "w") as log:
            proc = subprocess.run([sys.executable, "-m", "leap.orchestration.dagrun", str(plan_file), str(out_file)],
                                  env=airflow_env(settings), stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
        results = json.loads(out_file.read_text()) if out_file.exists() else []
    if proc.returncode != 0:
        failed = [r for r in results if r["state"] != "success"]
        detail = json.dumps(failed[-1]["tasks"]) if failed else _tail(log_to)
        raise LeapError(f"Airflow run failed ({failed[-1]['dag_id'] if failed else 'before any DAG ran'}): {detail}",
                        hint=f"see {log_to} and the task logs under {airflow_home(settings) / 'logs'}")
    return results


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


@dataclass
class RunAllSummary:
    school_year: str
    produced: int = 0
    landed: int = 0
    dead_lettered: int = 0
    duplicates: int = 0
    validated_files: int = 0
    quarantined_files: int = 0
    quarantined_rows: int = 0
    schools_scored: int | None = None
    schools_significant_growth: int | None = None
    marts: dict[str, int] = field(default_factory=dict)
    exports: list[dict] = field(default_factory=list)
    dag_runs: list[dict] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)

    def render(self) -> str:
        na = "n/a (scoring jobs not installed)"
        lines = [f"LEAP run-all summary (school year {self.school_year}, every step run by Airflow)",
                 f"  records produced to Kafka:      {self.produced:,}",
                 f"  submissions landed:             {self.landed:,}",
                 f"  dead-lettered (malformed):      {self.dead_lettered:,}",
                 f"  resubmissions stored once:      {self.duplicates:,}",
                 f"  quarantined:                    {self.quarantined_rows:,} rows in {self.quarantined_files} files",
                 f"  schools scored:                 {na if self.schools_scored is None else self.schools_scored}",
                 "  schools w/ significant growth:  "
                 f"{na if self.schools_significant_growth is None else self.schools_significant_growth}",
                 "  DAG runs: " + ", ".join(f"{r['dag_id']} {r['state']} ({r['seconds']:.0f}s)" for r in self.dag_runs),
                 "  timings: " + ", ".join(f"{k} {v:.1f}s" for k, v in self.seconds.items()),
                 "  outputs:"]
        lines += [f"    {k}: {v}" for k, v in self.outputs.items()]
        lines += [f"    export {e['partner']} {e['school_year']}: {e['dir']}" for e in self.exports]
        return "\n".join(lines)


def _xcom(results: list[dict], dag_id: str, task_id: str):
    for r in results:
        if r["dag_id"] == dag_id:
            return r["xcom"].get(task_id)
    return None


def school_counts(settings: Settings) -> tuple[int | None, int | None]:
    """(schools scored, schools with significant growth) read from the published marts; None where
    the marts do not exist (scoring not installed)."""
    import duckdb

    path = settings.data_dir / "published" / "marts.duckdb"
    if not path.exists():
        return None, None
    con = duckdb.connect(str(path), read_only=True)
    try:
        cols: dict[str, set[str]] = {}
        for t, c in con.execute("select table_name, column_name from duckdb_columns() where schema_name = 'main'"
                                ).fetchall():
            cols.setdefault(t, set()).add(c)
        scored = [con.execute(f"select count(distinct school_id) from main.{t}").fetchone()[0]
                  for t, c in cols.items() if "score" in t and "growth" not in t and "school_id" in c]
        # significant in the matched design (paired differences) on any scale, else the first flag found
        growth = [con.execute(f"select count(distinct school_id) from main.{t} where {s}").fetchone()[0]
                  for t, c in cols.items() if "growth" in t and "school_id" in c
                  for s in sorted((x for x in c if "signific" in x), key=lambda x: "unmatched" in x)[:1]]
    finally:
        con.close()
    return (max(scored) if scored else None), (max(growth) if growth else None)


def summarize(settings: Settings, school_year: str, results: list[dict], summary: RunAllSummary) -> RunAllSummary:
    ing = _xcom(results, "leap_ingestion_drain", "drain") or {}
    val = _xcom(results, "leap_validation", "validate") or {}
    summary.landed, summary.dead_lettered = ing.get("landed", 0), ing.get("dead_lettered", 0)
    summary.duplicates = ing.get("duplicates", 0)
    summary.validated_files = val.get("validated_files", 0)
    summary.quarantined_files = len(val.get("quarantined", []))
    summary.quarantined_rows = val.get("quarantined_rows", 0)
    published = [_xcom(results, d, "publish_marts") for d in ("leap_growth", "leap_scoring", "leap_warehouse_build")]
    summary.marts = next((p["tables"] for p in published if p), {})
    summary.schools_scored, summary.schools_significant_growth = school_counts(settings)
    summary.exports = _xcom(results, "leap_partner_refresh", "exports_ready") or []
    summary.dag_runs = [{k: r[k] for k in ("dag_id", "run_id", "state", "seconds")} for r in results]
    summary.seconds.update({r["dag_id"]: r["seconds"] for r in results})
    summary.outputs = {"raw lake": str(settings.raw_dir), "validated zone": str(settings.lake_dir / "validated"),
                       "quarantine": str(settings.lake_dir / "quarantine"),
                       "warehouse": str(settings.data_dir / "warehouse" / "leap.duckdb"),
                       "published marts (BI)": str(settings.data_dir / "published"),
                       "partner exports": str(settings.data_dir / "exports"),
                       "Airflow home": str(airflow_home(settings))}
    return summary


def _produce_school_year(settings: Settings, summary: RunAllSummary, *, seed: int, schools: int,
                         malformed_share: float) -> None:
    from leap.simulator import SimConfig, produce, simulate

    t = time.perf_counter()
    config = SimConfig(seed=seed, school_year=summary.school_year, malformed_share=malformed_share)
    sim = simulate(config.with_total_schools(schools))
    sim.truth.write(settings.data_dir / "simulation" / f"truth-{summary.school_year}-seed{seed}.json")
    summary.produced = produce(sim.records, settings)
    summary.seconds["simulate+produce"] = time.perf_counter() - t


def run_all_dags(settings: Settings, *, school_year: str = "2024-25", seed: int = 2024, schools: int = 40,
                 malformed_share: float = 0.01, simulate: bool = True, keep_broker: bool = False,
                 plan: list[dict] | None = None) -> RunAllSummary:
    """Broker up, a simulated school year streamed through it, then every DAG run through Airflow."""
    from leap.broker import embedded_broker, ensure_topics

    summary = RunAllSummary(school_year=school_year)
    start = time.perf_counter()
    broker = embedded_broker(settings) if settings.embedded else None
    started = broker.start() if broker else False
    try:
        ensure_topics(settings)
        if simulate:
            _produce_school_year(settings, summary, seed=seed, schools=schools, malformed_share=malformed_share)
        t = time.perf_counter()
        init_airflow(settings)
        summary.seconds["airflow init"] = time.perf_counter() - t
        results = run_dags(settings, plan or default_plan(school_year))
    finally:
        if started and not keep_broker:
            broker.stop()
    summarize(settings, school_year, results, summary)
    summary.seconds["total"] = time.perf_counter() - start
    out = settings.data_dir / "orchestration" / "run-all-summary.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(asdict(summary), indent=2, default=str))
    summary.outputs["summary"] = str(out)
    return summary
