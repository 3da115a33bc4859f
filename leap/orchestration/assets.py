"""Asset URIs that chain the DAGs: each DAG is scheduled on the asset its input is.

Kept as plain strings so importing this module costs nothing; the DAG files wrap them in
``airflow.sdk.Asset``.
"""

from __future__ import annotations

RAW_LAKE = "leap://lake/raw"  # landed submission files (ingestion drain / ingestion service)
VALIDATED_LAKE = "leap://lake/validated"  # files that passed their suite, promoted
WAREHOUSE = "leap://warehouse/marts"  # dbt build of the marts on the validated zone, published
CALIBRATION = "leap://warehouse/calibration"  # a reference calibration (versioned item bank)
SCORES = "leap://warehouse/scores"  # respondent scores of a term and the marts built on them
GROWTH = "leap://warehouse/growth"  # fall-to-spring school growth
REPORTS = "leap://reports/schools"  # rendered school, network and national reports
PARTNER_EXPORTS = "leap://exports/partners"  # per-partner export packages

WAREHOUSE_POOL = "leap_warehouse"  # one slot: never two dbt runs against the warehouse at once
