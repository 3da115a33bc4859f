"""Compare two DuckDB warehouses table by table: which tables differ, by how much.

    .venv/bin/python benchmarks/compare_warehouses.py A.duckdb B.duckdb

For every table of every schema present in both: rows in one and not the other (``except all``, exact),
or ``columns_differ`` when the two tables' columns (names, types, order) are not the same,
and for the tables that differ, the largest absolute difference of each double column after matching
rows on their non-double columns. Used to check that two builds of the same data are identical.
"""

from __future__ import annotations

import json
import sys

import duckdb


def tables(con, db: str) -> set[tuple[str, str]]:
    return {(s, t) for s, t in con.execute(
        "select schema_name, table_name from duckdb_tables() where database_name = ?", [db]).fetchall()}


def compare(a: str, b: str) -> dict:
    con = duckdb.connect()
    con.execute(f"attach '{a}' as a (read_only)")
    con.execute(f"attach '{b}' as b (read_only)")
    out = {}
    for schema, table in sorted(tables(con, "a") & tables(con, "b")):
        ta, tb = f"a.{schema}.{table}", f"b.{schema}.{table}"
        if con.execute(f"describe {ta}").fetchall() != con.execute(f"describe {tb}").fetchall():
            out[f"{schema}.{table}"] = {"columns_differ": True}  # another layout: rows not comparable
            continue
        diff = con.execute(f"select count(*) from (select * from {ta} except all select * from {tb})").fetchone()[0]
        if not diff:
            continue
        cols = con.execute(f"describe {ta}").fetchall()
        doubles = [c for c, kind, *_ in cols if kind in ("DOUBLE", "FLOAT")]
        keys = [c for c, kind, *_ in cols if c not in doubles]
        worst = {}
        if keys and doubles:
            on = " and ".join(f"x.{k} is not distinct from y.{k}" for k in keys)
            sel = ", ".join(f"max(abs(x.{d} - y.{d})) as {d}" for d in doubles)
            row = con.execute(f"select {sel} from {ta} x join {tb} y on {on}").fetchone()
            worst = {d: v for d, v in zip(doubles, row, strict=True) if v}
        out[f"{schema}.{table}"] = {"rows_differing": diff, "max_abs_diff": worst}
    return out


if __name__ == "__main__":
    print(json.dumps(compare(sys.argv[1], sys.argv[2]), indent=2, default=str))
