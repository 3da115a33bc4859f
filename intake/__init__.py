"""The survey intake service: teachers and students take the survey in a browser, partners' front ends
post v1 events; every accepted submission is produced to the submissions topic.

======================  ==================================================================
module                  what it holds
======================  ==================================================================
``intake.config``       limits and settings of the service (environment variables)
``intake.keys``         the service's secret: access-code hashes, CSRF tokens, signed forms
``intake.access``       access codes (SQLite under the data directory), administration windows
``intake.ratelimit``    token buckets per client address and per access code
``intake.producer``     the Kafka side: one producer per process, readiness probe, async acks
``intake.submissions``  the one path every submission takes: check, access, window, produce
``intake.forms``        survey pages: the form rendered from the instrument, answers into an event
``intake.app``          the FastAPI application (``create_app``), its routes and middleware
======================  ==================================================================

The consumer's validator (:func:`ingestion.contract.check_submission`) decides what is valid, so the
service refuses exactly what the ingestion would dead-letter, with the same reason codes. docs/intake.md
describes the endpoints, access, limits and privacy.
"""
