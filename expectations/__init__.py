"""Validation: every raw Parquet file is checked with Great Expectations before the warehouse sees it.

This folder is the home of validation: the GX context (``great_expectations.yml``), the versioned
thresholds (``thresholds.yml``), the generated suites (``suites/*.json``) and the code that makes and
runs them, side by side, so "how is a batch validated" is answered by one folder. Modules, in the
order data flows through them:

- :mod:`expectations.config`: where the suites live and the versioned thresholds;
- :mod:`expectations.suites`: expectation suites generated from the instrument definition plus
  the thresholds, written as JSON files into ``suites/`` and checked for drift;
- :mod:`expectations.custom`: the five custom expectations the built-in catalog lacks;
- :mod:`expectations.engine`: reading a raw file into a DataFrame and running a suite on it;
- :mod:`expectations.runner`: validate every pending raw file exactly once, promote or quarantine;
- :mod:`expectations.store`: the per-file status records and the append-only results tables;
- :mod:`expectations.quarantine`: listing and releasing quarantined files;
- :mod:`expectations.docs`: Data Docs (static HTML), built off the hot path.

The lake zones it reads and writes are named in :mod:`leap.layout`. Great Expectations is imported
only through :func:`expectations.engine.gx`, which switches its usage statistics off first (the
platform runs without network access).
"""
