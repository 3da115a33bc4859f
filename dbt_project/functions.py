"""A dbt-duckdb plugin: the statistical functions DuckDB lacks, registered on every dbt connection.

``t_two_sided_p(t, df)`` and ``t_critical(df, alpha)`` are :mod:`leap.inference`'s (one definition of
the significance rules for Python and SQL). ``leap_turn_done(model)`` gives the turn of large reads back
(:data:`dbt_project.pymodels.TURN`): the sums models' post-hook, run after dbt's commit of their table.
Configured in ``profiles.yml`` (``plugins``).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from dbt.adapters.duckdb.plugins import BasePlugin
from duckdb import DuckDBPyConnection
from duckdb.sqltypes import BOOLEAN, DOUBLE, VARCHAR

from dbt_project.pymodels import TURN
from leap import inference


def _floats(a: pa.Array) -> np.ndarray:
    """An Arrow column as float64 with NaN for NULL."""
    return a.to_numpy(zero_copy_only=False).astype(float)


def _column(values: np.ndarray) -> pa.Array:
    """NaN (no answer: df < 1, a NULL input) back to NULL."""
    values = np.asarray(values, float)
    return pa.array(values, mask=np.isnan(values))


def _p(t: pa.Array, df: pa.Array) -> pa.Array:
    return _column(inference.t_two_sided_p(_floats(t), _floats(df)))


def _critical(df: pa.Array, alpha: pa.Array) -> pa.Array:
    alphas = _floats(alpha)
    out = np.full(len(alphas), np.nan)
    for a in np.unique(alphas[~np.isnan(alphas)]):  # one alpha per query in practice
        rows = alphas == a
        out[rows] = inference.t_critical(_floats(df)[rows], float(a))
    return _column(out)


def _turn_done(model: str) -> bool:
    """The sums model ``model``'s post-hook: give back the turn of large reads it holds (True), if any."""
    return TURN.give_back(model)


class Plugin(BasePlugin):
    def configure_connection(self, conn: DuckDBPyConnection) -> None:
        # vectorized (Arrow) UDFs: a chunk of rows per call, ~100x faster than one Python call per row
        conn.create_function("t_two_sided_p", _p, [DOUBLE, DOUBLE], DOUBLE, type="arrow", null_handling="special")
        conn.create_function("t_critical", _critical, [DOUBLE, DOUBLE], DOUBLE, type="arrow", null_handling="special")
        # an effect, not a value: DuckDB must call it once per post-hook, never fold or cache it. A module's
        # function, not a bound method made for the call: DuckDB keeps the callable it is given
        conn.create_function("leap_turn_done", _turn_done, [VARCHAR], BOOLEAN, side_effects=True)
