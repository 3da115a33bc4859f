"""Publishing the marts for BI: a copy BI tools read without blocking the pipeline.

Aggregates only: every table of the warehouse's ``marts`` schema (respondent-level tables are built in
the ``restricted`` schema and never leave the warehouse) is written as Parquet under
``$LEAP_DATA_DIR/published/marts/`` and into a DuckDB file ``$LEAP_DATA_DIR/published/marts.duckdb``
(tables in its main schema), both replaced atomically: readers see the old or the new version,
never half of one. A mart whose content is unchanged since the last publish is carried over, not
written again (:func:`publish`).

What BI sees is documented where it reads: the dbt descriptions of every mart and column (persisted
in the warehouse as comments) become the snapshot's comments (``duckdb_columns().comment``), and the
Parquet directory has ``data_dictionary.csv`` (table, column, type, description). Column types are the
same in both: a HUGEINT (DuckDB's type for a sum of integers, which Parquet would store as a double) is
published as BIGINT.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from leap.config import Settings
from leap.errors import LeapError
from leap.locks import warehouse_lock


@dataclass
class Published:
    duckdb_file: Path
    parquet_dir: Path
    tables: dict[str, int]


MANIFEST = ".content-hashes.json"  # in the Parquet directory, swapped with it: what each file holds
DICTIONARY = "data_dictionary.csv"  # in the Parquet directory: every published column and its description


def publish(settings: Settings) -> Published:
    """Export the marts as Parquet files and a read-only DuckDB snapshot, atomically.

    A mart whose content did not change since the last publish is not exported again. A table's content
    hash is its row count and the sum of its rows' hashes (order-free, ~20x cheaper than writing it).
    The new snapshot starts as a copy of the published one, and a table whose hash there equals the
    warehouse's is kept; a Parquet file whose hash in the published directory's manifest equals it is
    hard-linked into the new version. Each copy is judged by what it holds itself, so a crash between
    the two replacements below cannot make either carry over a table from the other's version."""

    layout = settings.layout
    source = layout.warehouse
    if not source.exists():
        raise LeapError(f"no warehouse at {source}", hint="build it first with `leap warehouse build`")
    out = layout.published
    out.mkdir(parents=True, exist_ok=True)
    stage = out / f".stage-{os.getpid()}"
    staged_marts = stage / layout.published_marts.name  # swapped into place below
    shutil.rmtree(stage, ignore_errors=True)
    staged_marts.mkdir(parents=True)
    snapshot = stage / "snapshot.duckdb"
    old_files = _read_manifest(layout.published_marts)
    if layout.published_duckdb.exists():
        shutil.copyfile(layout.published_duckdb, snapshot)
    with warehouse_lock(settings):
        con = settings.duckdb(snapshot)
        try:
            con.execute("set enable_progress_bar = false")
            con.execute(f"attach '{source}' as wh (read_only)")
            counts, hashes = _export(con, staged_marts, old_files, layout.published_marts)
            _copy_comments(con, list(counts))
            con.execute(f"copy ({DICTIONARY_SQL}) to '{staged_marts / DICTIONARY}' (header, delimiter ',')")
            con.execute("detach wh")
        finally:
            con.close()
    (staged_marts / MANIFEST).write_text(json.dumps(hashes, indent=1))
    _swap(staged_marts, layout.published_marts)
    os.replace(snapshot, layout.published_duckdb)
    shutil.rmtree(stage, ignore_errors=True)
    return Published(layout.published_duckdb, layout.published_marts, counts)


def _export(con, staged_marts: Path, old_files: dict[str, str], published_marts: Path) -> tuple[dict, dict]:
    """Write every mart of the attached warehouse ``wh`` into the snapshot ``con`` (main schema) and as
    Parquet into ``staged_marts``, reusing what is unchanged; returns ({table: rows}, {table: hash})."""
    tables = [r[0] for r in con.execute(
        "select table_name from duckdb_tables() where database_name = 'wh' and schema_name = 'marts' "
        "order by table_name").fetchall()]
    kept = {r[0] for r in con.execute("select table_name from duckdb_tables() where database_name = "
                                      "current_database() and schema_name = 'main'").fetchall()}
    for stale in kept - set(tables):  # a mart that no longer exists leaves the snapshot too
        con.execute(f"drop table main.{stale}")
    counts, hashes = {}, {}
    for t in tables:
        published = f"(select {_published_columns(con, t)} from wh.marts.{t})"  # as the snapshot holds it
        counts[t], hashes[t] = _content_hash(con, published)
        if t not in kept or _content_hash(con, f"main.{t}")[1] != hashes[t]:
            # the snapshot holds the marts in its main schema: `select * from dim_items`
            con.execute(f"create or replace table main.{t} as select * from {published}")
        parquet = staged_marts / (t + ".parquet")
        if old_files.get(t) != hashes[t] or not _link(published_marts / parquet.name, parquet):
            con.execute(f"copy main.{t} to '{parquet}' (format parquet)")
    return counts, hashes


def _published_columns(con, table: str) -> str:
    """The select list of a mart: its columns, HUGEINT ones cast to BIGINT (counts; the cast fails
    rather than wrap if one ever did not fit), so that DuckDB and Parquet give the same type."""
    cols = con.execute("select column_name, data_type from duckdb_columns() where database_name = 'wh' and "
                       "schema_name = 'marts' and table_name = ? order by column_index", [table]).fetchall()
    return ", ".join(f'"{c}"::bigint as "{c}"' if kind in ("HUGEINT", "UHUGEINT") else f'"{c}"' for c, kind in cols)


def _copy_comments(con, tables: list[str]) -> None:
    """The warehouse's comments on the marts and their columns (dbt's descriptions), onto the snapshot
    (applied on every publish: a description can change while the data do not)."""
    def quoted(text: str | None) -> str:
        return "null" if text is None else "'" + text.replace("'", "''") + "'"

    for t, comment in con.execute("select table_name, comment from duckdb_tables() where database_name = 'wh' "
                                  "and schema_name = 'marts'").fetchall():
        if t in tables:
            con.execute(f"comment on table main.{t} is {quoted(comment)}")
    for t, c, comment in con.execute("select table_name, column_name, comment from duckdb_columns() where "
                                     "database_name = 'wh' and schema_name = 'marts'").fetchall():
        if t in tables:
            con.execute(f'comment on column main.{t}."{c}" is {quoted(comment)}')


# every published column: what a reader of the Parquet files has in place of the snapshot's comments
DICTIONARY_SQL = """
    select c.table_name as "table", c.column_name as "column", c.data_type as type,
        coalesce(c.comment, '') as description, coalesce(t.comment, '') as table_description
    from duckdb_columns() as c
    inner join duckdb_tables() as t using (database_name, schema_name, table_name)
    where c.database_name = current_database() and c.schema_name = 'main'
    order by c.table_name, c.column_index"""


def _content_hash(con, table: str) -> tuple[int, str]:
    """(rows, "rows:sum of the rows' hashes") of a table: equal for equal contents in any row order."""
    rows, total = con.execute(f"select count(*), coalesce(sum(hash(x)::hugeint), 0)::varchar from {table} as x"
                              ).fetchone()
    return rows, f"{rows}:{total}"


def _read_manifest(marts_dir: Path) -> dict[str, str]:
    try:
        return json.loads((marts_dir / MANIFEST).read_text())
    except (OSError, ValueError):
        return {}


def _link(src: Path, dst: Path) -> bool:
    """Hard-link a published file into the new version (the old version's directory is removed after
    the swap; the link keeps the file); False when it cannot be linked."""
    try:
        os.link(src, dst)
        return True
    except OSError:
        return False


def _swap(new_dir: Path, target: Path) -> None:
    """Replace a directory by another as close to atomically as POSIX allows (rename, then clean up)."""
    old = target.with_name(f".{target.name}.old-{os.getpid()}")
    if target.exists():
        os.replace(target, old)
    os.replace(new_dir, target)
    shutil.rmtree(old, ignore_errors=True)
