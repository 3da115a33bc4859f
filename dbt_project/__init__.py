"""The warehouse: the dbt project (models, seeds, tests) and, beside it, the Python that runs it.

- :mod:`dbt_project.runner`: ``dbt`` commands on this project under the warehouse lock, with the
  paths of :mod:`leap.layout` handed to dbt as environment variables;
- :mod:`dbt_project.publish`: the marts for BI (Parquet + a read-only DuckDB snapshot), swapped
  atomically.
"""
