"""Scoring: the Rasch engine (:mod:`scoring_jobs.rasch`, a library that imports nothing from the
platform) and the jobs that connect it to the warehouse.

- :mod:`scoring_jobs.tables`: the ``scoring`` tables' one definition (the jobs write them, dbt reads them);
- :mod:`scoring_jobs.inputs`: the counted respondents of a term, read from the warehouse;
- :mod:`scoring_jobs.item_bank`: reference calibration → a versioned, content-addressed item bank;
- :mod:`scoring_jobs.term_scores`: anchored scoring of a term, item drift.

School growth is computed from the term scores by dbt (``marts.fct_school_growth``).
"""
