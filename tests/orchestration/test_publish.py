"""Publishing the marts (dbt_project/publish.py) on a real DuckDB warehouse: an unchanged mart is carried
over (its Parquet file hard-linked, its snapshot table kept), a changed one written again, a dropped one
removed; what BI reads is the warehouse's marts either way."""

from __future__ import annotations

import duckdb

from dbt_project.publish import publish


def _warehouse(settings, sql: str) -> None:
    settings.layout.warehouse.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(settings.layout.warehouse))
    try:
        con.execute("create schema if not exists marts")
        con.execute(sql)
    finally:
        con.close()


def _snapshot(settings) -> dict[str, list]:
    con = duckdb.connect(str(settings.layout.published_duckdb), read_only=True)
    try:
        names = [r[0] for r in con.execute("select table_name from duckdb_tables() where schema_name = 'main' "
                                           "order by 1").fetchall()]
        return {t: sorted(con.execute(f"select * from main.{t}").fetchall()) for t in names}
    finally:
        con.close()


def _inode(settings, table: str) -> int:
    return (settings.layout.published_marts / f"{table}.parquet").stat().st_ino


def _parquet(settings, table: str) -> list:
    return sorted(duckdb.sql(f"from '{settings.layout.published_marts / (table + '.parquet')}'").fetchall())


def test_unchanged_marts_are_carried_over_and_changed_ones_rewritten(leap_env):
    settings = leap_env
    _warehouse(settings, "create table marts.a as select range as id, range * 0.5 as x from range(1000);"
                         "create table marts.b as select 'school-' || range as school_id from range(10)")
    first = publish(settings)
    assert first.tables == {"a": 1000, "b": 10}
    inodes = {t: _inode(settings, t) for t in ("a", "b")}
    assert _snapshot(settings)["b"] == _parquet(settings, "b") == sorted((f"school-{i}",) for i in range(10))

    assert publish(settings).tables == first.tables  # nothing changed: the same files
    assert {t: _inode(settings, t) for t in ("a", "b")} == inodes

    _warehouse(settings, "insert into marts.b values ('school-new')")  # one mart changes
    assert publish(settings).tables == {"a": 1000, "b": 11}
    assert _inode(settings, "a") == inodes["a"] and _inode(settings, "b") != inodes["b"]
    assert ("school-new",) in _parquet(settings, "b") and ("school-new",) in _snapshot(settings)["b"]
    assert _snapshot(settings)["a"] == _parquet(settings, "a") and len(_parquet(settings, "a")) == 1000

    _warehouse(settings, "update marts.a set x = x + 1 where id = 7")  # same row count, other content
    publish(settings)
    assert _inode(settings, "a") != inodes["a"]
    assert (7, 4.5) in _parquet(settings, "a") and (7, 4.5) in _snapshot(settings)["a"]

    _warehouse(settings, "drop table marts.a")  # a mart that no longer exists leaves both copies
    assert publish(settings).tables == {"b": 11}
    assert set(_snapshot(settings)) == {"b"}
    assert not (settings.layout.published_marts / "a.parquet").exists()


def test_comments_dictionary_and_types_are_published(leap_env):
    """dbt's descriptions (warehouse comments) reach the snapshot and data_dictionary.csv; a HUGEINT
    count is a BIGINT in both the snapshot and the Parquet file; the carry-over still works with it."""
    import csv

    settings = leap_env
    _warehouse(settings, "create table marts.c as select range::int as k, sum(range)::hugeint as n_in_category "
                         "from range(5) group by all; comment on table marts.c is 'Counts per k.'; "
                         "comment on column marts.c.n_in_category is 'Respondents in the category (it''s a count).'")
    publish(settings)
    con = duckdb.connect(str(settings.layout.published_duckdb), read_only=True)
    try:
        cols = dict(con.execute("select column_name, data_type || ' ' || coalesce(comment, '-') from duckdb_columns() "
                                "where table_name = 'c'").fetchall())
        table_comment = con.execute("select comment from duckdb_tables() where table_name = 'c'").fetchone()[0]
    finally:
        con.close()
    assert cols == {"k": "INTEGER -", "n_in_category": "BIGINT Respondents in the category (it's a count)."}
    assert table_comment == "Counts per k."
    parquet = settings.layout.published_marts / "c.parquet"
    assert dict(duckdb.sql(f"select column_name, column_type from (describe from '{parquet}')").fetchall()) == \
        {"k": "INTEGER", "n_in_category": "BIGINT"}
    rows = list(csv.DictReader((settings.layout.published_marts / "data_dictionary.csv").open()))
    assert {(r["table"], r["column"], r["type"], r["description"]) for r in rows} == {
        ("c", "k", "INTEGER", ""), ("c", "n_in_category", "BIGINT", "Respondents in the category (it's a count).")}
    inode = _inode(settings, "c")
    publish(settings)  # unchanged, HUGEINT and all: carried over
    assert _inode(settings, "c") == inode
