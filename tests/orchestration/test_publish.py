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
