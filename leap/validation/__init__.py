"""Data validation: every raw Parquet file is checked with Great Expectations before the warehouse sees it.

Modules, in the order data flows through them:

- :mod:`leap.validation.config`: where things live (the ``expectations/`` context, lake zones) and
  the versioned thresholds (``expectations/thresholds.yml``);
- :mod:`leap.validation.suites`: expectation suites generated from the instrument definition plus
  the thresholds, written as JSON files into ``expectations/suites/`` and checked for drift;
- :mod:`leap.validation.custom`: the three custom expectations the built-in catalog lacks;
- :mod:`leap.validation.engine`: reading a raw file into a DataFrame and running a suite on it;
- :mod:`leap.validation.runner`: validate every pending raw file exactly once, promote or quarantine;
- :mod:`leap.validation.store`: the per-file status records and the append-only results tables;
- :mod:`leap.validation.quarantine`: listing and releasing quarantined files;
- :mod:`leap.validation.docs`: Data Docs (static HTML), built off the hot path.

Great Expectations is imported only through :func:`leap.validation.engine.gx`, which switches its
usage statistics off first (the platform runs without network access).
"""
