"""The main job on the embedded default, as importable steps.

``run_demo`` brings up the embedded broker, simulates a school year (fall and spring, three
samples), streams it through Kafka into the raw Parquet lake, validates every landed file with
Great Expectations, builds the dbt warehouse on the validated zone and publishes the marts for
BI, then reports what happened at each stage. Scoring and growth are added here as they are
built; the Airflow DAGs call the same step functions.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from leap.config import Settings


@dataclass
class DemoSummary:
    produced: int = 0
    valid_unique: int = 0
    landed: int = 0
    dead_lettered: int = 0
    duplicates: int = 0
    files: int = 0
    validated_files: int = 0
    validated_rows: int = 0
    quarantined_files: int = 0
    quarantined_rows: int = 0
    marts: dict[str, int] = field(default_factory=dict)
    calibration_id: str = ""
    schools_scored: int = 0
    schools_significant_growth: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)

    def render(self) -> str:
        lines = [
            "LEAP demo summary",
            f"  records produced to Kafka:        {self.produced:,}",
            f"  valid distinct submissions:       {self.valid_unique:,}",
            f"  newly landed in the raw lake:     {self.landed:,}",
            f"  dead-lettered (malformed):        {self.dead_lettered:,}",
            f"  already stored (resubmissions):   {self.duplicates:,}",
            f"  raw Parquet files:                {self.files:,}",
            f"  validated (promoted):             {self.validated_rows:,} rows in {self.validated_files:,} files",
            f"  quarantined:                      {self.quarantined_rows:,} rows in {self.quarantined_files:,} files",
            f"  item bank calibration:            {self.calibration_id}",
            f"  schools scored:                   {self.schools_scored:,}",
            f"  schools with significant growth:  {self.schools_significant_growth:,} "
            "(school x instrument x scale, matched design, 95%)",
            "  marts: " + ", ".join(f"{k} {v:,}" for k, v in self.marts.items()),
            "  timings: " + ", ".join(f"{k} {v:.1f}s" for k, v in self.seconds.items()),
            "  outputs:",
        ]
        lines += [f"    {k}: {v}" for k, v in self.outputs.items()]
        return "\n".join(lines)


def _step(summary: DemoSummary, name: str, fn, *args, **kwargs):
    print(f"==> {name}", file=sys.stderr, flush=True)
    t = time.perf_counter()
    result = fn(*args, **kwargs)
    summary.seconds[name] = time.perf_counter() - t
    return result


def run_demo(settings: Settings, *, seed: int = 2024, schools: int = 40, malformed_share: float = 0.01,
             school_year: str = "2024-25", keep_broker: bool = False) -> DemoSummary:
    """Simulate a school year and run it through every built stage of the platform."""
    from ingestion.consumer import run_ingestion
    from leap.broker import embedded_broker, ensure_topics
    from leap.simulator import SimConfig, produce, simulate

    summary = DemoSummary()
    broker = embedded_broker(settings) if settings.embedded else None
    started = _step(summary, "broker", broker.start) if broker else False
    try:
        ensure_topics(settings)
        config = SimConfig(seed=seed, school_year=school_year, malformed_share=malformed_share)
        sim = _step(summary, "simulate", simulate, config.with_total_schools(schools))
        truth = sim.truth.write(settings.data_dir / "simulation" / f"truth-{school_year}-seed{seed}.json")
        summary.produced = _step(summary, "produce", produce, sim.records, settings)
        summary.valid_unique = sim.valid_unique
        stats = _step(summary, "ingest", run_ingestion, settings, "bounded")
        summary.landed, summary.dead_lettered = stats.landed, stats.rejected
        summary.duplicates, summary.files = stats.duplicates, stats.files
        _validate_and_build(settings, summary, school_year)
        summary.outputs = {"raw lake": str(settings.raw_dir), "validated zone": str(settings.lake_dir / "validated"),
                           "quarantine": str(settings.lake_dir / "quarantine"),
                           "warehouse": str(settings.data_dir / "warehouse" / "leap.duckdb"),
                           "published marts (BI)": str(settings.data_dir / "published"),
                           "simulation truth": str(truth)}
    finally:
        if started and not keep_broker:
            broker.stop()
    _write_summary(settings.data_dir / "demo-summary.json", summary)
    return summary


def _validate_and_build(settings: Settings, summary: DemoSummary, school_year: str) -> None:
    from leap.validation.runner import run_validation
    from leap.warehouse import dbt, publish

    report = _step(summary, "validate", run_validation, settings)
    summary.validated_files = len(report.validated)
    summary.validated_rows = sum(r for _, r in report.validated)
    summary.quarantined_files = len(report.quarantined)
    summary.quarantined_rows = sum(r for _, r, _ in report.quarantined)
    _step(summary, "dbt build", dbt, settings, "build", quiet=True)
    _score(settings, summary, school_year)
    _step(summary, "dbt build (scores, growth)", dbt, settings, "build", quiet=True)
    summary.marts = _step(summary, "publish", publish, settings).tables
    _count_scores(settings, summary, school_year)


def _score(settings: Settings, summary: DemoSummary, school_year: str) -> None:
    """Calibrate the item bank on the fall administration, then score fall and spring against it."""
    from scoring_jobs.jobs import calibrate_reference, score_term

    cal = _step(summary, "calibrate", calibrate_reference, settings, school_year, "fall")
    summary.calibration_id = cal["calibration_id"]
    for term in ("fall", "spring"):
        _step(summary, f"score {term}", score_term, settings, school_year, term,
              calibration_id=cal["calibration_id"])


def _count_scores(settings: Settings, summary: DemoSummary, school_year: str) -> None:
    import duckdb

    from leap.warehouse import warehouse_path

    con = duckdb.connect(str(warehouse_path(settings)), read_only=True)
    try:
        summary.schools_scored = con.execute(
            "select count(distinct school_id) from marts.fct_school_scale_scores where school_year = ?",
            [school_year]).fetchall()[0][0]
        summary.schools_significant_growth = con.execute(
            "select count(*) from marts.fct_school_growth where school_year = ? and is_significant_matched",
            [school_year]).fetchall()[0][0]
    finally:
        con.close()


def _write_summary(path: Path, summary: DemoSummary) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary.__dict__, indent=2, default=str))
