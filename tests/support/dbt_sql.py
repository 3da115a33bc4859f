"""Render a dbt macro of dbt_project/macros into plain SQL, to run it in DuckDB on fixture tables.

Only for macros that need nothing from dbt but their arguments (``ref`` is given as a name map).
"""

from __future__ import annotations

from pathlib import Path

import jinja2

MACROS = Path(__file__).resolve().parents[2] / "dbt_project" / "macros"


class CompilerError(Exception):
    """dbt's ``exceptions.raise_compiler_error``, raised by a macro that refuses its arguments."""


def _raise_compiler_error(message: str):
    raise CompilerError(message)


def _render(source: str, refs: dict[str, str]) -> str:
    """``source`` after the shared sums macros (macros/exact_sum.sql, which every estimator takes), with
    ``ref`` as a name map, ``config`` ignored and ``exceptions.raise_compiler_error`` raising
    :class:`CompilerError`."""
    env = jinja2.Environment(extensions=["jinja2.ext.do"])
    shared = (MACROS / "exact_sum.sql").read_text()
    exceptions = type("exceptions", (), {"raise_compiler_error": staticmethod(_raise_compiler_error)})
    return env.from_string(shared + "\n" + source).render(ref=lambda name: refs[name], config=lambda **_: "",
                                                          exceptions=exceptions)


def render_macro(file: str, call: str, refs: dict[str, str] | None = None) -> str:
    """``call``: the Jinja expression, e.g. ``weighted_category_shares('t', ['group'])``."""
    return _render((MACROS / file).read_text() + "\n{{ " + call + " }}", refs or {})


def render_model(path: Path, refs: dict[str, str]) -> str:
    """A SQL model rendered as dbt would, for its SQL alone."""
    return _render(Path(path).read_text(), refs)
