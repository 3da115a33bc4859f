"""Scoring: the Rasch engine (:mod:`scoring_jobs.rasch`, a library that imports nothing from the
platform) and the jobs that connect it to the warehouse: they read it, and write lake files dbt reads.

- :mod:`scoring_jobs.tables`: the ``scoring`` tables' one definition and their files in the lake (the
  jobs write them, dbt reads them as its ``scoring`` source);
- :mod:`scoring_jobs.inputs`: the counted respondents of a term, read from the warehouse (read-only);
- :mod:`scoring_jobs.item_bank`: reference calibration → a versioned, content-addressed item bank;
- :mod:`scoring_jobs.term_scores`: anchored scoring of a term, item drift.

School growth is computed from the term scores by dbt (``marts.fct_school_growth``).
"""
