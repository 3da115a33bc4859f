"""Render a dbt macro of dbt_project/macros into plain SQL, to run it in DuckDB on fixture tables.

Only for macros that need nothing from dbt but their arguments (``ref`` is given as a name map).
"""

from __future__ import annotations

from pathlib import Path

import jinja2

MACROS = Path(__file__).resolve().parents[2] / "dbt_project" / "macros"


def _render(source: str, refs: dict[str, str]) -> str:
    """``source`` after the shared sums macros (macros/exact_sum.sql, which every estimator takes), with
    ``ref`` as a name map and ``config`` ignored."""
    env = jinja2.Environment(extensions=["jinja2.ext.do"])
    shared = (MACROS / "exact_sum.sql").read_text()
    return env.from_string(shared + "\n" + source).render(ref=lambda name: refs[name], config=lambda **_: "")


def render_macro(file: str, call: str, refs: dict[str, str] | None = None) -> str:
    """``call``: the Jinja expression, e.g. ``weighted_category_shares('t', ['group'])``."""
    return _render((MACROS / file).read_text() + "\n{{ " + call + " }}", refs or {})


def render_model(path: Path, refs: dict[str, str]) -> str:
    """A SQL model rendered as dbt would, for its SQL alone."""
    return _render(Path(path).read_text(), refs)
