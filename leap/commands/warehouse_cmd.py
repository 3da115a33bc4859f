"""`leap warehouse build|test|docs|publish`: dbt over the validated lake, and BI publishing."""

from __future__ import annotations

from leap.config import load_settings


def register(sub) -> None:
    p = sub.add_parser("warehouse", help="build the dbt warehouse, its docs, and publish the marts for BI")
    wsub = p.add_subparsers(dest="warehouse_command", metavar="ACTION", required=True)
    b = wsub.add_parser("build", help="dbt seed + run + test (dbt build); holds the warehouse lock")
    b.add_argument("--select", "-s", help="dbt selection, e.g. marts or +fct_item_top_box_shares")
    b.add_argument("--full-refresh", action="store_true")
    b.set_defaults(func=_build)
    d = wsub.add_parser("docs", help="generate the dbt docs site (serve with `dbt docs serve` or any web server)")
    d.set_defaults(func=_docs)
    f = wsub.add_parser("freshness", help="check source freshness of the validated lake")
    f.set_defaults(func=_freshness)
    pub = wsub.add_parser("publish", help="export the marts as Parquet and a read-only DuckDB snapshot")
    pub.set_defaults(func=_publish)
    e = wsub.add_parser("enrolment", help="check and install the expected-respondents file (response rates)",
                        description="Columns school_id,school_year,term,instrument,expected_respondents; "
                                    "installed as $LEAP_DATA_DIR/inputs/enrolment.csv and loaded by every build.")
    e.add_argument("file", metavar="ENROLMENT.csv")
    e.set_defaults(func=_enrolment)


def _build(args) -> int:
    from dbt_project.runner import dbt
    from scoring_jobs.tables import ensure_scoring_tables

    settings = load_settings()
    from dbt_project.inputs import load_inputs

    ensure_scoring_tables(settings)  # dbt reads them as a source
    load_inputs(settings)  # the optional enrolment file, likewise
    extra = (["--select", args.select] if args.select else []) + (["--full-refresh"] if args.full_refresh else [])
    dbt(settings, "build", *extra)
    return 0


def _enrolment(args) -> int:
    from pathlib import Path

    from dbt_project.inputs import install_enrolment

    settings = load_settings()
    n = install_enrolment(settings, Path(args.file))
    print(f"enrolment: {n} rows installed as {settings.layout.enrolment} (used by the next `leap warehouse build`)")
    return 0


def _docs(args) -> int:
    from dbt_project.runner import dbt

    settings = load_settings()
    dbt(settings, "docs", "generate")
    print(f"dbt docs: {settings.layout.dbt_target / 'index.html'} "
          f"(serve: cd {settings.layout.dbt_target} && python -m http.server 8081)")
    return 0


def _freshness(args) -> int:
    from dbt_project.runner import dbt

    dbt(load_settings(), "source", "freshness")
    return 0


def _publish(args) -> int:
    from dbt_project.publish import publish

    result = publish(load_settings())
    print(f"published {len(result.tables)} marts: {result.duckdb_file} and {result.parquet_dir}/")
    for name, n in result.tables.items():
        print(f"  {name}: {n:,} rows")
    return 0
