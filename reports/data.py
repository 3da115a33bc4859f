"""What the reports show, read from the warehouse in one pass: the school-report marts, the classroom
view (the warehouse's ``reporting`` schema, which is never published) and the group marts of the
national report, for one school year and term.

The warehouse is read under the warehouse lock (dbt never writes while it is read), every table once,
then grouped by school in memory: rendering thousands of schools makes no query per school.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from leap.config import Settings
from leap.errors import LeapError
from leap.locks import warehouse_lock

# table -> (schema, the filter on school year / term it is read with)
_SCHOOL_TABLES = {
    "fct_school_scale_scores": ("marts", "year_term"),
    "fct_school_item_top_box": ("marts", "year_term"),
    "fct_school_item_distribution": ("marts", "year_term"),
    "fct_school_subgroup_scores": ("marts", "year_term"),
    "fct_school_response_rates": ("marts", "year_term"),
    "fct_school_growth": ("marts", "year"),
    "rpt_classroom_items": ("reporting", "year_term"),
}
_GROUP_TABLES = {
    "fct_score_level_distribution": ("marts", "year_term"),
    "fct_item_top_box_shares": ("marts", "year_term"),
    "fct_group_comparisons": ("marts", "year_term"),
    "fct_group_scale_means": ("marts", "year_term"),
    "fct_weighting_diagnostics": ("marts", "year_term"),
    "fct_national_benchmarks": ("marts", "current"),
}


@dataclass
class ReportData:
    school_year: str
    term: str
    schools: dict[str, dict] = field(default_factory=dict)  # school_id -> dim_schools row
    by_school: dict[str, dict[str, list[dict]]] = field(default_factory=dict)  # school -> table -> rows
    groups: dict[str, list[dict]] = field(default_factory=dict)  # group-level table -> rows
    calibrations: list[dict] = field(default_factory=list)
    reporting_scales: list[dict] = field(default_factory=list)

    def rows(self, school_id: str, table: str) -> list[dict]:
        return self.by_school.get(school_id, {}).get(table, [])


def available_terms(settings: Settings) -> list[tuple[str, str]]:
    """(school_year, term) pairs with school results, oldest first."""
    with _connection(settings) as con:
        return [tuple(r) for r in con.execute(
            "select school_year, term from (select distinct school_year, term from marts.fct_school_scale_scores) "
            "join reference.terms using (term) order by school_year, term_order").fetchall()]


def load(settings: Settings, school_year: str, term: str, schools: list[str] | None = None) -> ReportData:
    """Every row the reports of ``school_year`` / ``term`` need (only ``schools``, when given)."""
    data = ReportData(school_year, term)
    with _connection(settings) as con:
        data.schools = {r["school_id"]: r for r in _fetch(con, "select * from marts.dim_schools", [])}
        wanted = set(schools) if schools else None
        for table, (schema, how) in _SCHOOL_TABLES.items():
            grouped: dict[str, list[dict]] = defaultdict(list)
            for row in _fetch(con, *_query(schema, table, how, school_year, term)):
                if wanted is None or row["school_id"] in wanted:
                    grouped[row["school_id"]].append(row)
            for school_id, rows in grouped.items():
                data.by_school.setdefault(school_id, {})[table] = rows
        for table, (schema, how) in _GROUP_TABLES.items():
            data.groups[table] = _fetch(con, *_query(schema, table, how, school_year, term))
        data.calibrations = _fetch(con, "select * from staging.stg_scoring__calibrations", [])
    return data


def _query(schema: str, table: str, how: str, school_year: str, term: str) -> tuple[str, list]:
    if how == "year_term":
        return f"select * from {schema}.{table} where school_year = ? and term = ?", [school_year, term]
    if how == "year":
        return f"select * from {schema}.{table} where school_year = ?", [school_year]
    return f"select * from {schema}.{table} where is_current", []


def _fetch(con, sql: str, params: list) -> list[dict]:
    return con.sql(sql, params=params).to_arrow_table().to_pylist()


@contextmanager
def _connection(settings: Settings) -> Iterator:
    """A read-only connection to the warehouse, held under the warehouse lock (dbt writes it)."""

    path = settings.layout.warehouse
    if not path.exists():
        raise LeapError(f"no warehouse at {path}", hint="run the pipeline first: `leap run-all` or `leap demo`")
    with warehouse_lock(settings):
        con = settings.duckdb(path, read_only=True)
        try:
            yield con
        finally:
            con.close()
