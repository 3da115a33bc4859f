"""The scoring tables: their one definition, and their files in the lake's scoring zone.

The scoring jobs write them as Parquet files under ``lake/scoring/<table>/`` (``settings.layout.
scoring_tables``), one file per partition; dbt reads them as its ``scoring`` source (external locations,
dbt_project/models/staging/scoring/_scoring__sources.yml, the glob of :func:`relation`) and its staging
models select every column, so the columns and types are only stated here. No job writes into the
warehouse: dbt → (read) scoring → lake files → dbt, never a round trip through dbt's own tables, and the
item banks and scores outlive a rebuilt or deleted warehouse.

- ``item_bank_calibrations``: one row per calibration id × instrument × scaled component;
- ``item_bank_thresholds``: one row per calibration id × instrument × component × item × step;
- ``respondent_scores``: one row per counted respondent × term × scale, with the calibration id used;
- ``item_drift``: one row per term × calibration × scale × item (anchored displacement);
- ``reporting_scales``: one row per instrument × scaled component: the fixed 200-300 scale, derived once
  from a named reference calibration (scoring_jobs.item_bank._link);
- ``item_dif``: one row per calibration × scale × grouping × item × focal group (scoring_jobs.item_dif);
- ``scale_dif``: one row per calibration × scale × grouping: Andersen's LR test across its groups.

Each table is partitioned by the key its writer replaces (:data:`PARTITIONS`): a partition is one file,
``<table>/<key>=<value>/…/part.parquet``, written beside its place and renamed over it (readers see the
old file or the new one, never a half-written one). ``_schema.parquet`` at the top of each table (no rows,
every column) makes the table readable before any job wrote it and gives its columns their types.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import pandas as pd

from leap import stamps
from leap.config import Settings
from leap.fsutil import atomic_target
from leap.locks import scoring_lock, warehouse_lock

COLUMNS = {
    "item_bank_calibrations": """calibration_id varchar, instrument varchar, instrument_version varchar, component varchar,
        model varchar, reference_school_year varchar, reference_term varchar, data_fingerprint varchar,
        n_persons bigint, n_items integer, n_responses bigint, converged boolean, iterations integer,
        reliability double, scale_intercept double, scale_slope double, scale_reference varchar,
        cut_scores_version varchar, cut_moderate_low double, cut_moderate_high double, cut_high double,
        min_answered_share double, files_dir varchar, created_at timestamptz, reporting_scale_version varchar,
        link_shift double, linking_error double, n_link_items integer""",
    "item_bank_thresholds": """calibration_id varchar, instrument varchar, component varchar, item_id varchar, step integer,
        threshold double, threshold_se double, location double, location_se double, infit_msq double,
        outfit_msq double, n_responses bigint""",
    "respondent_scores": """calibration_id varchar, instrument varchar, instrument_version varchar, school_year varchar,
        term varchar, component varchar, submission_id varchar, respondent_key varchar, school_id varchar,
        grade_band varchar, sample varchar, n_scale_items integer, n_answered integer, raw_score double,
        is_scored boolean, not_scored_reason varchar, theta double, theta_se double, scaled_score double,
        scaled_se double, level varchar, level_order integer, is_outside_reporting_range boolean,
        infit_msq double, outfit_msq double, is_misfitting boolean, classification_accuracy double,
        classification_consistency double""",
    "reporting_scales": """reporting_scale_version varchar, instrument varchar, component varchar,
        reference_calibration_id varchar, scale_intercept double, scale_slope double, created_at timestamptz""",
    "item_drift": """calibration_id varchar, instrument varchar, school_year varchar, term varchar, component varchar,
        item_id varchar, n_responses bigint, anchored_location double, displacement double, infit_msq double,
        outfit_msq double, n_unscorable_responses bigint, drift_threshold double, is_drifting boolean,
        displacement_se double, displacement_z double, is_dropped_from_anchor boolean""",
    "item_dif": """calibration_id varchar, instrument varchar, component varchar, school_year varchar, term varchar,
        grouping varchar, item_id varchar, focal_group varchar, reference_group varchar, n_focal bigint,
        n_reference bigint, testable boolean, reason varchar, is_anchor boolean, dif_contrast_logits double,
        dif_contrast_se double, wald_z double, p_value double, q_value double, flagged boolean, steps_chi2 double,
        steps_df integer, steps_p double, mantel_chi2 double, mantel_p double, mantel_q double, smd double,
        smd_sd double, ets_class varchar""",
    "scale_dif": """calibration_id varchar, instrument varchar, component varchar, school_year varchar, term varchar,
        grouping varchar, model varchar, groups varchar, reference_group varchar, n_groups integer, n_persons bigint,
        n_items integer, items_excluded varchar, loglik_pooled double, loglik_groups double, lr_chi2 double,
        df integer, p_value double, testable boolean, reason varchar""",
}

TABLES = tuple(COLUMNS)
# The key a writer replaces a table by: one file per value of it.
PARTITIONS = {
    "item_bank_calibrations": ("calibration_id",), "item_bank_thresholds": ("calibration_id",),
    "reporting_scales": ("instrument", "component"),  # written once per scale, never replaced
    "respondent_scores": ("school_year", "term"), "item_drift": ("school_year", "term"),
    "item_dif": ("calibration_id",), "scale_dif": ("calibration_id",),
}
SCHEMA_FILE = "_schema.parquet"
NO_ROWS = "select 1 as _none where false"  # a query for an empty partition (or a schema file)


def columns(table: str) -> list[tuple[str, str]]:
    """(name, type) of every column of a scoring table, in order."""
    return [tuple(c.split(maxsplit=1)) for c in " ".join(COLUMNS[table].split()).split(", ")]


def column_names(table: str) -> list[str]:
    return [name for name, _ in columns(table)]


def relation(root: Path | str, table: str) -> str:
    """The table as DuckDB reads it: every file under its directory, columns matched by name (a file
    written before a column was added has it as NULL). dbt's source uses the same call."""
    return f"read_parquet('{root}/{table}/**/*.parquet', union_by_name = true, hive_partitioning = false)"


def partition_path(settings: Settings, table: str, key: dict[str, str]) -> Path:
    """The one file of a partition: ``<table>/<k>=<v>/…/part.parquet`` (values URL-quoted)."""
    parts = [f"{k}={quote(str(key[k]), safe='')}" for k in PARTITIONS[table]]
    return settings.layout.scoring_tables.joinpath(table, *parts, "part.parquet")


def _typed(con, table: str, sql: str) -> str:
    """``sql``'s rows with the table's columns, in order and cast to their types; a column the rows lack is
    NULL (an insert by name)."""
    result = con.execute(f"select * from ({sql}) limit 0")
    have = {d[0] for d in result.description}
    result.fetchall()  # done with it: the connection runs the copy next
    cols = ", ".join(f"cast({name if name in have else 'null'} as {kind}) as {name}"
                     for name, kind in columns(table))
    return f"select {cols} from ({sql})"


def _copy(con, select: str, path: Path) -> None:
    """Write a query's rows to ``path`` atomically and durably (:func:`leap.fsutil.atomic_target`)."""
    with atomic_target(path) as tmp:
        con.execute(f"copy ({select}) to '{tmp}' (format parquet)")


def write_partition(con, settings: Settings, table: str, key: dict[str, str], sql: str) -> Path:
    """Replace one partition of ``table`` with the rows of ``sql`` (a query on ``con``; empty: the
    partition holds no rows). Hold :func:`leap.locks.scoring_lock` when the write depends on a read.
    Runs on a cursor of its own: a result still open on ``con`` does not stand in its way."""
    cur = con.cursor()
    try:
        return _write(cur, settings, table, key, sql)
    finally:
        cur.close()


def write_frame(con, settings: Settings, table: str, key: dict[str, str], rows: pd.DataFrame) -> Path:
    """:func:`write_partition` of a DataFrame (no columns at all: an empty partition)."""
    if rows.shape[1] == 0:
        return write_partition(con, settings, table, key, NO_ROWS)
    cur = con.cursor()
    try:
        cur.register("_partition_rows", rows)
        return _write(cur, settings, table, key, "select * from _partition_rows")
    finally:
        cur.close()


def _write(cur, settings: Settings, table: str, key: dict[str, str], sql: str) -> Path:
    path = partition_path(settings, table, key)
    _copy(cur, _typed(cur, table, sql), path)
    return path


def ensure_scoring_tables(settings: Settings) -> None:
    """Give every table its schema file (no rows, every column) when missing or out of date, so that dbt
    and the jobs can read a table no job has written yet. The first time (no schema file at all), move
    the scoring tables of an older warehouse into the lake (:func:`migrate_warehouse_tables`)."""
    import pyarrow.parquet as pq

    schema_files = {t: settings.layout.scoring_tables / t / SCHEMA_FILE for t in TABLES}
    if not any(p.exists() for p in schema_files.values()):
        migrate_warehouse_tables(settings)
    con = None
    try:
        for table, path in schema_files.items():
            if path.exists() and pq.read_schema(path).names == column_names(table):
                continue
            con = con or settings.duckdb()
            _copy(con, _typed(con, table, NO_ROWS), path)
    finally:
        if con is not None:
            con.close()


def migrate_warehouse_tables(settings: Settings) -> dict[str, int]:
    """Move the scoring tables of a warehouse made before they were lake files (schema ``scoring`` in the
    warehouse, before 2026-12) into the lake, then drop them there: the item banks and the fixed
    reporting scales must carry over, or the next calibration would derive a new 200-300 scale. A
    partition already in the lake is kept. Returns {table: rows moved}; {} when there is nothing to move."""
    path = settings.layout.warehouse
    if not path.exists():
        return {}
    with warehouse_lock(settings), scoring_lock(settings):
        con = settings.duckdb(path)
        try:
            old = [t for (t,) in con.execute("select table_name from duckdb_tables() where schema_name = 'scoring' "
                                             "and database_name = current_database()").fetchall() if t in COLUMNS]
            moved = {t: _move(con, settings, t) for t in old}
            if old:
                con.execute("drop schema scoring cascade")
            return moved
        finally:
            con.close()


def _move(con, settings: Settings, table: str) -> int:
    keys, moved = PARTITIONS[table], 0
    for values in con.execute(f"select distinct {', '.join(keys)} from scoring.{table}").fetchall():
        key = dict(zip(keys, values, strict=True))
        if partition_path(settings, table, key).exists():
            continue
        where = " and ".join(f"{k} = '{str(v).replace(chr(39), chr(39) * 2)}'" for k, v in key.items())
        path = write_partition(con, settings, table, key, f"select * from scoring.{table} where {where}")
        moved += con.execute(f"select count(*) from read_parquet('{path}')").fetchall()[0][0]
    return moved


def connect(settings: Settings):
    """An in-memory DuckDB connection with schema ``scoring``: a view per table over its files (read at
    each query, so a partition written on it is seen by the next query)."""
    ensure_scoring_tables(settings)
    con = settings.duckdb()
    con.execute("create schema scoring")
    for table in TABLES:
        con.execute(f"create view scoring.{table} as select * from {relation(settings.layout.scoring_tables, table)}")
    return con


def fingerprint(settings: Settings, *tables: str) -> str:
    """A hash of the partition files of ``tables`` (path, size, mtime): what steps that read them are
    current with. Not the schema files: they hold no rows, and a build writes them when missing."""
    root = settings.layout.scoring_tables
    return stamps.fingerprint(*(stamps.files_fingerprint(root / t, "*=*/**/part.parquet") for t in tables))
