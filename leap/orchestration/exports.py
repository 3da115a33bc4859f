"""Partner exports: per partner (sample) and school year, the school results and growth as CSV and
Parquet plus a manifest (row counts, sha256 checksums), ready to hand over.

Only the marts listed in :data:`EXPORTED_MARTS` leave the platform: aggregate, suppressed-safe
(an ``is_suppressed`` column; cells under the minimum n already carry null estimates), with a
``school_year`` column, restricted to the partner's schools (their ``sample`` column, or ``school_id``
joined to ``dim_schools``). Respondent-level marts are never published, so never listed.

Doubles are rounded to 6 decimals: DuckDB's parallel sums can differ in the last bits between two
builds of the same data, and a partner must get the same bytes for the same results.

Layout: ``$LEAP_DATA_DIR/exports/<partner>/<school_year>/<run>/`` where ``<run>`` is ``v`` and the
first 12 hex digits of a checksum over the exported files, so re-running on unchanged marts
rewrites nothing (same directory, same bytes) and a changed warehouse adds a new version beside the
earlier ones. ``LATEST`` in ``<partner>/<school_year>/`` names the newest version.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

from leap.config import Settings
from leap.errors import LeapError
from leap.fsutil import sha256_file, write_atomic

# What leaves the platform for a partner: an explicit list (a mart is exported because it is named here,
# never because its columns look right), each with how its rows are tied to the partner: the mart's
# own ``sample`` column, or ``school_id`` joined to ``dim_schools``. Every one is aggregate and carries
# ``is_suppressed`` (cells under the minimum n have null estimates) and ``school_year``; checked here at
# export time and by tests/orchestration/test_exports_list.py.
EXPORTED_MARTS = {
    "fct_group_scale_comparisons": "sample",
    "fct_group_scale_means": "sample",
    "fct_item_response_distribution": "sample",
    "fct_item_top_box_shares": "sample",
    "fct_school_growth": "school_id",
    "fct_school_item_distribution": "school_id",
    "fct_school_item_top_box": "sample",
    "fct_school_scale_scores": "sample",
    "fct_school_subgroup_scores": "school_id",
    "fct_score_level_distribution": "sample",
}


def exportable_marts(con) -> dict[str, str]:
    """The marts of :data:`EXPORTED_MARTS` that the published snapshot has (one not built yet, e.g.
    growth before spring, is skipped), after checking that each carries ``is_suppressed``,
    ``school_year`` and the column that ties it to a partner."""
    cols: dict[str, set[str]] = {}
    for table, column in con.execute("select table_name, column_name from duckdb_columns() "
                                     "where schema_name = 'main' and not internal").fetchall():
        cols.setdefault(table, set()).add(column)
    out = {}
    for table, how in EXPORTED_MARTS.items():
        if table not in cols:
            continue
        missing = {"is_suppressed", "school_year", how} - cols[table]
        if missing:
            raise LeapError(f"the published mart {table} lacks {', '.join(sorted(missing))}; it cannot be exported",
                            hint="rebuild and publish the warehouse (`leap warehouse build`), or update "
                                 "EXPORTED_MARTS in leap/orchestration/exports.py")
        out[table] = how
    return out


def _query(table: str, how: str) -> str:
    if how == "sample":
        return f"select * from main.{table} where school_year = $year and sample = $partner order by all"
    return (f"select t.* from main.{table} t where t.school_year = $year and t.school_id in "
            f"(select school_id from main.dim_schools where sample = $partner) order by all")


DECIMALS = 6  # doubles are delivered rounded: the same marts rebuilt give the same bytes


def _rounded(data):
    import pyarrow as pa
    import pyarrow.compute as pc

    for i, field in enumerate(data.schema):
        if pa.types.is_floating(field.type):
            data = data.set_column(i, field, pc.round(data.column(i), DECIMALS))
    return data


def _write(con, stage: Path, marts: dict[str, str], school_year: str, partner: str) -> list[dict]:
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    files = []
    for table, how in marts.items():
        data = _rounded(con.sql(_query(table, how), params={"year": school_year, "partner": partner}).to_arrow_table())
        if data.num_rows == 0:
            continue
        pacsv.write_csv(data, stage / f"{table}.csv")
        pq.write_table(data, stage / f"{table}.parquet", compression="zstd")
        for fmt in ("csv", "parquet"):
            path = stage / f"{table}.{fmt}"
            files.append({"file": path.name, "mart": table, "format": fmt, "rows": data.num_rows,
                          "bytes": path.stat().st_size, "sha256": sha256_file(path)})
    return files


def _file_entry(path: Path, stage: Path, **extra) -> dict:
    return {"file": path.relative_to(stage).as_posix(), "bytes": path.stat().st_size,
            "sha256": sha256_file(path), **extra}


def _codebook(con, stage: Path, marts: dict[str, str]) -> list[dict]:
    """``codebook.csv``: what every code of the package means: each exported column (its dbt
    description, persisted in the snapshot), item wordings, response categories, components,
    networks, levels and the suppression reasons."""
    import csv

    from leap import instrument
    from reports.wording import SUPPRESSION, label

    rows = [("column", f"{t}.{c}", d or "") for t, c, d in con.execute(
        "select table_name, column_name, comment from duckdb_columns() where schema_name = 'main' "
        "order by table_name, column_index").fetchall() if t in marts]
    catalog = instrument.load_catalog()
    for name in catalog.names:
        for item in catalog.latest(name).items:
            rows.append(("item", item.item_id, item.wording))
            rows += [("category", f"{item.item_id}={k}", text) for k, text in enumerate(item.categories)]
    rows += [("component", k, v) for k, v in instrument.component_names().items()]
    rows += [("network", k, v) for k, v in instrument.sample_names().items()]
    rows += [("level", lv, label(lv)) for lv in instrument.levels()]
    rows += [("suppression_reason", k, v) for k, v in SUPPRESSION.items()]
    path = stage / "codebook.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(("kind", "code", "meaning"))
        writer.writerows(rows)
    return [_file_entry(path, stage, mart="codebook", format="csv", entries=len(rows))]


def _reports(settings: Settings, stage: Path, school_year: str, partner: str) -> list[dict]:
    """The partner's own schools' reports (HTML and PDF) of every term built, by the reports'
    manifests (each file names its school and network); never another network's school."""
    files = []
    for manifest in sorted(settings.layout.reports.glob(f"{school_year}/*/manifest.json")):
        term = manifest.parent.name
        for f in json.loads(manifest.read_text())["files"]:
            if f["school_id"] is None or f["sample"] != partner:
                continue
            target = stage / "school_reports" / term / f["path"]
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(manifest.parent / f["path"], target)
            files.append(_file_entry(target, stage, mart="report", format=target.suffix[1:],
                                     school_id=f["school_id"], term=term))
    return files


def partner_export(settings: Settings, school_year: str, partner: str) -> dict:
    """Export one partner's school results and growth of a school year; return the manifest."""

    source = settings.layout.published_duckdb
    if not source.exists():
        raise LeapError(f"no published marts at {source}", hint="build and publish the warehouse first")
    base = settings.layout.export_dir(partner, school_year)
    base.mkdir(parents=True, exist_ok=True)
    for stale in base.glob(".stage-*"):  # left by an interrupted export (one exporter at a time)
        shutil.rmtree(stale, ignore_errors=True)
    stage = base / f".stage-{os.getpid()}"
    stage.mkdir()
    con = settings.duckdb(source, read_only=True)
    try:
        marts = exportable_marts(con)
        files = _write(con, stage, marts, school_year, partner)
        files += _codebook(con, stage, marts)
    finally:
        con.close()
    files += _reports(settings, stage, school_year, partner)
    digest = hashlib.sha256("".join(f"{f['file']}:{f['sha256']}\n" for f in files).encode()).hexdigest()
    version = f"v{digest[:12]}"
    manifest = {"partner": partner, "school_year": school_year, "version": version,
                "min_cell_n": settings.min_cell_n, "source": "published marts (suppressed-safe only)",
                "files": files, "rows": {f["mart"]: f["rows"] for f in files if "rows" in f},
                "reports": sorted({f["school_id"] for f in files if f["mart"] == "report"})}
    write_atomic(stage / "manifest.json", (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode())
    target = base / version
    if target.exists():  # same marts, same bytes: already handed over, keep it untouched
        shutil.rmtree(stage)
    else:
        os.replace(stage, target)
    write_atomic(base / "LATEST", (version + "\n").encode())
    return {**manifest, "dir": str(target)}
