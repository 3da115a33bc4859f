"""The scoring tables in the warehouse's ``scoring`` schema: their one definition.

The scoring jobs create and write them; dbt reads them as the ``scoring`` source (its staging models
select every column, so the columns and types are only stated here). ``ensure_scoring_tables`` runs
before every dbt build (:func:`leap.orchestration.tasks.run_dbt`), so the source always exists.

- ``item_bank_calibrations``: one row per calibration id × instrument × scaled component;
- ``item_bank_thresholds``: one row per calibration id × instrument × component × item × step;
- ``respondent_scores``: one row per counted respondent × term × scale, with the calibration id used;
- ``item_drift``: one row per term × calibration × scale × item (anchored displacement);
- ``reporting_scales``: one row per instrument × scaled component: the fixed 200-300 scale, derived once
  from a named reference calibration (scoring_jobs.item_bank._link);
- ``item_dif``: one row per calibration × scale × grouping × item × focal group (scoring_jobs.item_dif);
- ``scale_dif``: one row per calibration × scale × grouping: Andersen's LR test across its groups.
"""

from __future__ import annotations

from leap.config import Settings
from leap.errors import LeapError
from leap.locks import warehouse_lock

COLUMNS = {
    "item_bank_calibrations": """calibration_id varchar, instrument varchar, instrument_version varchar, component varchar,
        model varchar, reference_school_year varchar, reference_term varchar, data_fingerprint varchar,
        n_persons bigint, n_items integer, n_responses bigint, converged boolean, iterations integer,
        reliability double, scale_intercept double, scale_slope double, scale_reference varchar,
        cut_scores_version varchar, cut_moderate_low double, cut_moderate_high double, cut_high double,
        min_answered_share double, files_dir varchar, created_at timestamptz, reporting_scale_version varchar,
        link_shift double, linking_error double, n_link_items integer""",
    "item_bank_thresholds": """calibration_id varchar, instrument varchar, component varchar, item_id varchar, step integer,
        threshold double, threshold_se double, location double, location_se double, infit_msq double,
        outfit_msq double, n_responses bigint""",
    "respondent_scores": """calibration_id varchar, instrument varchar, instrument_version varchar, school_year varchar,
        term varchar, component varchar, submission_id varchar, respondent_key varchar, school_id varchar,
        grade_band varchar, sample varchar, n_scale_items integer, n_answered integer, raw_score double,
        is_scored boolean, not_scored_reason varchar, theta double, theta_se double, scaled_score double,
        scaled_se double, level varchar, level_order integer, is_outside_reporting_range boolean,
        infit_msq double, outfit_msq double, is_misfitting boolean, classification_accuracy double,
        classification_consistency double""",
    "reporting_scales": """reporting_scale_version varchar, instrument varchar, component varchar,
        reference_calibration_id varchar, scale_intercept double, scale_slope double, created_at timestamptz""",
    "item_drift": """calibration_id varchar, instrument varchar, school_year varchar, term varchar, component varchar,
        item_id varchar, n_responses bigint, anchored_location double, displacement double, infit_msq double,
        outfit_msq double, n_unscorable_responses bigint, drift_threshold double, is_drifting boolean,
        displacement_se double, displacement_z double, is_dropped_from_anchor boolean""",
    "item_dif": """calibration_id varchar, instrument varchar, component varchar, school_year varchar, term varchar,
        grouping varchar, item_id varchar, focal_group varchar, reference_group varchar, n_focal bigint,
        n_reference bigint, testable boolean, reason varchar, is_anchor boolean, dif_contrast_logits double,
        dif_contrast_se double, wald_z double, p_value double, q_value double, flagged boolean, steps_chi2 double,
        steps_df integer, steps_p double, mantel_chi2 double, mantel_p double, mantel_q double, smd double,
        smd_sd double, ets_class varchar""",
    "scale_dif": """calibration_id varchar, instrument varchar, component varchar, school_year varchar, term varchar,
        grouping varchar, model varchar, groups varchar, reference_group varchar, n_groups integer, n_persons bigint,
        n_items integer, items_excluded varchar, loglik_pooled double, loglik_groups double, lr_chi2 double,
        df integer, p_value double, testable boolean, reason varchar""",
}

TABLES = tuple(COLUMNS)


def columns(table: str) -> list[tuple[str, str]]:
    """(name, type) of every column of a scoring table, in order."""
    return [tuple(c.split(maxsplit=1)) for c in " ".join(COLUMNS[table].split()).split(", ")]


def column_names(table: str) -> list[str]:
    return [name for name, _ in columns(table)]


def connect(settings: Settings, read_only: bool = False):

    path = settings.layout.warehouse
    if read_only and not path.exists():
        raise LeapError(f"no warehouse at {path}", hint="build it first with `leap warehouse build`")
    path.parent.mkdir(parents=True, exist_ok=True)
    return settings.duckdb(path, read_only=read_only)



def create_tables(con) -> None:
    """Create the ``scoring`` schema and any missing table (on an open connection)."""
    con.execute("create schema if not exists scoring")
    for name, cols in COLUMNS.items():
        con.execute(f"create table if not exists scoring.{name} ({cols})")
        for column, kind in columns(name):  # a warehouse made before a column was added gets it (null)
            con.execute(f"alter table scoring.{name} add column if not exists {column} {kind}")


def ensure_scoring_tables(settings: Settings) -> None:
    """Create the ``scoring`` schema and its empty tables if missing (before dbt reads them)."""
    with warehouse_lock(settings):
        con = connect(settings)
        try:
            create_tables(con)
        finally:
            con.close()


def has_table(con, name: str) -> bool:
    return bool(con.execute("select count(*) from duckdb_tables() where schema_name = 'scoring' and "
                            "table_name = ?", [name]).fetchone()[0])


