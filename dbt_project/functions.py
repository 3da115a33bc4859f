"""A dbt-duckdb plugin: the statistical functions DuckDB lacks, registered on every dbt connection.

``t_two_sided_p(t, df)`` and ``t_critical(df, alpha)`` are :mod:`leap.inference`'s (one definition of
the significance rules for Python and SQL). Configured in ``profiles.yml`` (``plugins``).
"""

from __future__ import annotations

from dbt.adapters.duckdb.plugins import BasePlugin
from duckdb import DuckDBPyConnection
from duckdb.sqltypes import DOUBLE

from leap import inference


def _p(t: float | None, df: float | None) -> float | None:
    if t is None or df is None:
        return None
    p = inference.t_two_sided_p(t, df)
    return None if p != p else p


def _critical(df: float | None, alpha: float | None) -> float | None:
    if df is None or alpha is None:
        return None
    c = inference.t_critical(df, alpha)
    return None if c != c else c


class Plugin(BasePlugin):
    def configure_connection(self, conn: DuckDBPyConnection) -> None:
        conn.create_function("t_two_sided_p", _p, [DOUBLE, DOUBLE], DOUBLE, null_handling="special")
        conn.create_function("t_critical", _critical, [DOUBLE, DOUBLE], DOUBLE, null_handling="special")
