"""What a run of the whole chain produced: one summary for the Airflow path and the direct path.

Built from the per-DAG results (``{dag_id, state, tasks, xcom, seconds}``: the XComs of an Airflow run
or the returns of :mod:`leap.orchestration.flows`) and from the published marts. Its headline says what
it counts: schools (not cells) with a significant fall-to-spring change on at least one scale, and
beside it the school × instrument × scale cells behind that number.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from leap.config import Settings
from leap.fsutil import write_atomic


@dataclass
class RunSummary:
    school_year: str
    through: str = "airflow"  # "airflow" or "direct"
    produced: int = 0
    valid_unique: int = 0
    landed: int = 0
    dead_lettered: int = 0
    duplicates: int = 0
    validated_files: int = 0
    quarantined_files: int = 0
    quarantined_rows: int = 0
    calibration_id: str = ""
    schools: int = 0
    schools_scored: int = 0
    schools_significant_growth: int = 0
    growth_cells: int = 0
    growth_cells_significant: int = 0
    weighting: dict[str, int] = field(default_factory=dict)  # groups (instrument x term x sample) per method
    marts: dict[str, int] = field(default_factory=dict)
    exports: list[dict] = field(default_factory=list)
    reports: list[dict] = field(default_factory=list)
    dag_runs: list[dict] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)

    def render(self) -> str:
        by = "every step run by Airflow" if self.through == "airflow" else "every step called directly"
        lines = [f"LEAP run summary (school year {self.school_year}, {by})",
                 f"  records produced to Kafka:       {self.produced:,}",
                 f"  valid distinct submissions:      {self.valid_unique:,}",
                 f"  newly landed in the raw lake:    {self.landed:,}",
                 f"  dead-lettered (malformed):       {self.dead_lettered:,}",
                 f"  resubmissions stored once:       {self.duplicates:,}",
                 f"  quarantined:                     {self.quarantined_rows:,} rows in {self.quarantined_files} files",
                 f"  item bank calibration:           {self.calibration_id or '-'}",
                 f"  schools scored:                  {self.schools_scored:,} of {self.schools:,}",
                 f"  schools with significant growth: {self.schools_significant_growth:,} of {self.schools_scored:,} "
                 "(fall to spring, on at least one instrument x scale, all respondents as in the school reports, 95%)",
                 f"    school x instrument x scale cells significant: {self.growth_cells_significant:,} of "
                 f"{self.growth_cells:,}",
                 "  weights (instrument x term x sample groups): "
                 + (", ".join(f"{k} {v}" for k, v in sorted(self.weighting.items())) or "-")
                 + ("  ** raking missed its margins: base weights used (fct_weighting_diagnostics) **"
                    if self.weighting.get("base_weights_fallback") else ""),
                 "  DAG runs: " + ", ".join(f"{r['dag_id']} {r['state']} ({r['seconds']:.0f}s)" for r in self.dag_runs),
                 "  timings: " + ", ".join(f"{k} {v:.1f}s" for k, v in self.seconds.items()),
                 "  outputs:"]
        lines += [f"    {k}: {v}" for k, v in self.outputs.items()]
        lines += [f"    reports {r['school_year']} {r['term']} ({r['schools']} schools, {r['pdfs']} PDFs, "
                  f"{r['seconds']} s): {r['index']}" for r in self.reports]
        lines += [f"    export {e['partner']} {e['school_year']}: {e['dir']}" for e in self.exports]
        return "\n".join(lines)

    def write(self, settings: Settings) -> None:
        path = settings.layout.run_summary
        self.outputs["summary"] = str(path)
        write_atomic(path, json.dumps(asdict(self), indent=2, default=str).encode())


def _xcom(results: list[dict], dag_id: str, task_id: str):
    for r in results:
        if r["dag_id"] == dag_id:
            return r["xcom"].get(task_id)
    return None


def school_counts(settings: Settings, summary: RunSummary) -> RunSummary:
    """Schools, schools scored, significant growth of ``summary.school_year``: read from the published
    marts (what BI sees)."""

    path, school_year = settings.layout.published_duckdb, summary.school_year
    if not path.exists():
        return summary
    con = settings.duckdb(path, read_only=True)
    try:
        tables = {r[0] for r in con.execute("select table_name from duckdb_tables()").fetchall()}
        one = lambda sql: con.execute(sql, [school_year]).fetchone()  # noqa: E731
        if "dim_schools" in tables:
            summary.schools = con.execute("select count(*) from main.dim_schools").fetchone()[0]
        if "fct_school_scale_scores" in tables:
            summary.schools_scored = one("select count(distinct school_id) from main.fct_school_scale_scores "
                                         "where school_year = ?")[0]
        if "fct_school_growth" in tables:
            # the headline design, the one the school reports show (docs/scoring.md#which-growth-is-the-headline)
            schools, cells, significant = one(
                "select count(distinct school_id) filter (where is_significant_unmatched), count(*), "
                "count(*) filter (where is_significant_unmatched) from main.fct_school_growth where school_year = ?")
            summary.schools_significant_growth, summary.growth_cells = schools, cells
            summary.growth_cells_significant = significant
        if "fct_weighting_diagnostics" in tables:
            summary.weighting = dict(con.execute(
                "select weight_method, count(*) from main.fct_weighting_diagnostics where school_year = ? "
                "group by 1", [school_year]).fetchall())
    finally:
        con.close()
    return summary


def summarize(settings: Settings, results: list[dict], summary: RunSummary) -> RunSummary:
    ing = _xcom(results, "leap_ingestion_drain", "drain") or {}
    val = _xcom(results, "leap_validation", "validate") or {}
    cal = _xcom(results, "leap_calibration", "calibrate") or {}
    summary.landed, summary.dead_lettered = ing.get("landed", 0), ing.get("dead_lettered", 0)
    summary.duplicates = ing.get("duplicates", 0)
    summary.validated_files = val.get("validated_files", 0)
    summary.quarantined_files = len(val.get("quarantined", []))
    summary.quarantined_rows = val.get("quarantined_rows", 0)
    summary.calibration_id = cal.get("calibration_id", "")
    published = [_xcom(results, d, "publish_marts") for d in ("leap_growth", "leap_scoring", "leap_warehouse_build")]
    summary.marts = next((p["tables"] for p in published if p), {})
    school_counts(settings, summary)
    summary.reports = _xcom(results, "leap_school_reports", "reports_ready") or []
    summary.exports = _xcom(results, "leap_partner_refresh", "exports_ready") or []
    summary.dag_runs = [{k: r[k] for k in ("dag_id", "run_id", "state", "seconds")} for r in results]
    summary.seconds.update({r["dag_id"]: r["seconds"] for r in results})
    layout = settings.layout
    summary.outputs = {"raw lake": str(layout.raw), "validated zone": str(layout.validated),
                       "quarantine": str(layout.quarantine), "warehouse": str(layout.warehouse),
                       "published marts (BI)": str(layout.published), "restricted zone": str(layout.restricted),
                       "reports": str(layout.reports), "partner exports": str(layout.exports)}
    dif = _xcom(results, "leap_calibration", "item_dif") or {}
    report = dif.get("report") or (str(layout.calibrations / summary.calibration_id / "index.html")
                                   if summary.calibration_id else None)
    if report and Path(report).exists():  # the measurement quality and DIF of the calibration
        summary.outputs["calibration report"] = report
    if summary.through == "airflow":
        summary.outputs["Airflow home"] = str(layout.airflow_home)
    return summary
