"""Orchestration: the importable task functions behind the Airflow DAGs in ``dags/``, and the runners.

- :mod:`leap.orchestration.assets`: the asset URIs that chain the DAGs (raw lake → validated lake →
  warehouse → calibration / scores → growth → partner exports);
- :mod:`leap.orchestration.tasks`: one function per DAG task, each runs without Airflow and is
  idempotent for its partition (school year, term, batch);
- :mod:`leap.orchestration.flows`: every DAG as a plain function of those tasks (the direct path);
- :mod:`leap.orchestration.exports`: the partner export (CSV + Parquet + manifest per partner);
- :mod:`leap.orchestration.runner`: sets up a local Airflow home (SQLite) and runs every DAG to
  completion through Airflow (``dag.test``) or directly, then summarises what came out
  (:mod:`leap.orchestration.summary`).

Nothing here imports Airflow at module level, so the DAG files stay cheap to parse.
"""
