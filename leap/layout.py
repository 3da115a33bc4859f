"""The one layout of ``$LEAP_DATA_DIR``: every path the platform reads or writes is named here.

Parts never join path pieces under the data directory themselves; they ask ``settings.layout``.
dbt cannot import Python, so :meth:`Layout.dbt_env` hands the paths it needs to dbt as environment
variables (``profiles.yml`` and the source YAML read them with ``env_var``).

::

    $LEAP_DATA_DIR/
      lake/raw/instrument=…/school_year=…/term=…/<file>.parquet   ingestion (immutable)
      lake/validated/<same path>                                 passing files (the warehouse reads these)
      lake/quarantine/<same path> (+ .validation.json)           failing files; _released/ after a release
      lake/_validation/{status,results,files,releases,term_checks,gx_results}/   validation bookkeeping
      lake/_ingest_log/<topic>/cluster=<tag>/partition=<p>/      the ingestion commit log
      lake/scoring/<table>/<key>=<value>/…/part.parquet           the scoring jobs' tables (dbt's `scoring` source)
      warehouse/leap.duckdb                                      the dbt warehouse (+ .dbt.lock)
      dbt/{target,logs}/                                         dbt's own output
      published/marts.duckdb, published/marts/*.parquet          what BI reads
      restricted/                                                respondent-level extracts (never published)
      inputs/enrolment.csv                                       expected respondents (optional roster input)
      reports/<school_year>/<term>/                              school, network and LEAP reports + manifest
      exports/<partner>/<school_year>/<version>/                 partner refreshes
      scoring/calibrations/<calibration id>/                     item banks as files
      secrets/pseudonym.key                                      the local HMAC key (embedded default)
      secrets/intake.key                                         the intake service's key (embedded default)
      intake/access.sqlite                                       survey access codes (hashes only), leap intake
      kafka/                                                     the embedded Apache Kafka: server.properties,
                                                                 data/ (KRaft log, durable), logs/server.log, broker.pid
      run/                                                       Tansu's pid and log files (LEAP_EMBEDDED_BROKER=tansu)
      airflow/                                                   the local Airflow home
      orchestration/                                             task results and the run summary
      simulation/                                                simulated truth files
      docs/gx/                                                   Great Expectations Data Docs
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Layout:
    root: Path

    # ------------------------------------------------------------------ lake
    @property
    def lake(self) -> Path:
        return self.root / "lake"

    @property
    def raw(self) -> Path:
        return self.lake / "raw"

    @property
    def validated(self) -> Path:
        return self.lake / "validated"

    @property
    def quarantine(self) -> Path:
        return self.lake / "quarantine"

    @property
    def released(self) -> Path:
        """Quarantine records of released files (kept, never deleted)."""
        return self.quarantine / "_released"

    @property
    def validation(self) -> Path:
        return self.lake / "_validation"

    @property
    def validation_status(self) -> Path:
        """One JSON record per raw file: its latest outcome (the exactly-once bookkeeping)."""
        return self.validation / "status"

    @property
    def validation_results(self) -> Path:
        """Append-only Parquet: one row per file × expectation."""
        return self.validation / "results"

    @property
    def validation_files(self) -> Path:
        """Append-only Parquet: one row per file and validation run."""
        return self.validation / "files"

    @property
    def validation_releases(self) -> Path:
        """Append-only Parquet: one row per operator release (who, why, how)."""
        return self.validation / "releases"

    @property
    def validation_term_checks(self) -> Path:
        """One JSON document per instrument x school year x term: its batch statistics over every
        validated file (expectations.term_checks)."""
        return self.validation / "term_checks"

    @property
    def gx_results(self) -> Path:
        """Great Expectations result documents of every run, the input of Data Docs."""
        return self.validation / "gx_results"

    @property
    def validation_lock(self) -> Path:
        return self.validation / ".lock"

    @property
    def ingest_log(self) -> Path:
        """Commit log of the ingestion sink (one marker per durable micro-batch)."""
        return self.lake / "_ingest_log"

    def ingest_log_of(self, topic: str) -> Path:
        return self.ingest_log / topic

    @property
    def scoring_tables(self) -> Path:
        """The scoring jobs' tables (item banks, scores, drift, DIF) as Parquet files, one directory per table
        and one file per partition (scoring_jobs.tables); respondent-level, so in the lake, never published."""
        return self.lake / "scoring"

    @property
    def scoring_lock(self) -> Path:
        return self.scoring_tables / ".lock"

    # ------------------------------------------------------------------ warehouse and what leaves it
    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse" / "leap.duckdb"

    @property
    def warehouse_lock(self) -> Path:
        return self.warehouse.parent / ".dbt.lock"

    @property
    def dbt_target(self) -> Path:
        return self.root / "dbt" / "target"

    @property
    def dbt_logs(self) -> Path:
        return self.root / "dbt" / "logs"

    @property
    def published(self) -> Path:
        return self.root / "published"

    @property
    def published_duckdb(self) -> Path:
        return self.published / "marts.duckdb"

    @property
    def published_marts(self) -> Path:
        return self.published / "marts"

    @property
    def restricted(self) -> Path:
        """The restricted zone: respondent-level files for authorized analysts; never published or exported."""
        return self.root / "restricted"

    @property
    def restricted_scores(self) -> Path:
        return self.restricted / "respondent_scores.parquet"

    @property
    def inputs(self) -> Path:
        return self.root / "inputs"

    @property
    def enrolment(self) -> Path:
        """Expected respondents per school x school year x term x instrument (docs/reports.md)."""
        return self.inputs / "enrolment.csv"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    def reports_dir(self, school_year: str, term: str) -> Path:
        return self.reports / school_year / term

    @property
    def exports(self) -> Path:
        return self.root / "exports"

    def export_dir(self, partner: str, school_year: str) -> Path:
        return self.exports / partner / school_year

    @property
    def calibrations(self) -> Path:
        return self.root / "scoring" / "calibrations"

    # ------------------------------------------------------------------ runtime state
    @property
    def secrets(self) -> Path:
        return self.root / "secrets"

    @property
    def pseudonym_key(self) -> Path:
        return self.secrets / "pseudonym.key"

    @property
    def intake_key(self) -> Path:
        """The intake service's signing key when LEAP_INTAKE_SECRET is unset (intake.keys)."""
        return self.secrets / "intake.key"

    @property
    def intake_codes(self) -> Path:
        """Survey access codes of the intake service: salted hashes, never the codes (intake.access)."""
        return self.root / "intake" / "access.sqlite"

    @property
    def kafka(self) -> Path:
        """The embedded Apache Kafka's home: configuration, KRaft log directory, logs, pid file."""
        return self.root / "kafka"

    @property
    def run(self) -> Path:
        """Pid files, broker logs and other runtime state of the embedded default."""
        return self.root / "run"

    @property
    def airflow_home(self) -> Path:
        return self.root / "airflow"

    @property
    def orchestration(self) -> Path:
        return self.root / "orchestration"

    @property
    def task_reports(self) -> Path:
        """The last result of every task, as JSON."""
        return self.orchestration / "reports"

    @property
    def run_summary(self) -> Path:
        return self.orchestration / "run-all-summary.json"

    def truth(self, school_year: str, seed: int) -> Path:
        return self.root / "simulation" / f"truth-{school_year}-seed{seed}.json"

    @property
    def gx_docs(self) -> Path:
        return self.root / "docs" / "gx"

    # ------------------------------------------------------------------ for dbt
    def dbt_env(self) -> dict[str, str]:
        """The paths dbt reads (``profiles.yml``, the source YAML), as environment variables."""
        return {"LEAP_WAREHOUSE_PATH": str(self.warehouse), "LEAP_VALIDATED_DIR": str(self.validated),
                "LEAP_VALIDATION_RESULTS_DIR": str(self.validation_results),
                "LEAP_RESTRICTED_DIR": str(self.restricted), "LEAP_SCORING_DIR": str(self.scoring_tables),
                "DBT_TARGET_PATH": str(self.dbt_target), "DBT_LOG_PATH": str(self.dbt_logs)}
