"""A real BI client on the published snapshot: SQLAlchemy with duckdb-engine (the driver Superset uses),
read-only, lists the marts and reads their descriptions.

Column reflection (``inspect().get_columns``) of SQLAlchemy >= 2.0.45 queries ``pg_catalog.pg_collation``,
which DuckDB 2.0 lacks (duckdb/duckdb#22069, Mause/duckdb_engine#1379); Superset pins its own SQLAlchemy
1.4, where it works. The column descriptions are read here as a BI user's SQL would read them, from
``duckdb_columns()`` (docs/warehouse.md#bi-access).
"""

from __future__ import annotations

import duckdb
import pytest
import sqlalchemy as sa

from dbt_project.publish import publish


@pytest.fixture
def snapshot(leap_env):
    settings = leap_env
    settings.layout.warehouse.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(settings.layout.warehouse))
    con.execute("create schema marts; create table marts.fct_a as select range as k from range(3); "
                "create table marts.dim_b as select 'x' as code; comment on table marts.fct_a is 'Facts.'; "
                "comment on column marts.fct_a.k is 'The key.'; comment on table marts.dim_b is 'A dimension.'")
    con.close()
    publish(settings)
    return settings.layout.published_duckdb


def test_sqlalchemy_lists_the_marts_and_reads_their_descriptions(snapshot):
    engine = sa.create_engine(f"duckdb:///{snapshot}", connect_args={"read_only": True})
    try:
        inspector = sa.inspect(engine)
        assert sorted(inspector.get_table_names()) == ["dim_b", "fct_a"]
        assert inspector.get_table_comment("fct_a") == {"text": "Facts."}
        with engine.connect() as conn:
            comments = dict(conn.exec_driver_sql(
                "select table_name || '.' || column_name, comment from duckdb_columns() "
                "where schema_name = 'main' and not internal").fetchall())
            assert comments == {"fct_a.k": "The key.", "dim_b.code": None}
            assert conn.exec_driver_sql("select sum(k) from fct_a").scalar() == 3
            with pytest.raises(sa.exc.DBAPIError, match="read-only"):
                conn.exec_driver_sql("create table main.x (a int)")
    finally:
        engine.dispose()
