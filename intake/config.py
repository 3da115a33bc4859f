"""Limits and settings of the intake service, read from the environment (docs/intake.md#limits).

``LEAP_INTAKE_SECRET``
    Hex key (at least 16 bytes) behind access-code hashes, CSRF tokens and signed forms. Unset: the
    key file ``$LEAP_DATA_DIR/secrets/intake.key``, created on first use (embedded default only;
    required in production, like ``LEAP_PSEUDONYM_KEY``).
``LEAP_INTAKE_PUBLIC_URL``
    Address respondents reach the service by; ``leap intake codes issue`` prints survey links under it.
``LEAP_INTAKE_MAX_BODY_BYTES``
    Largest request body (default 65536): a v1 event of 35 items is about 1.5 KB.
``LEAP_INTAKE_IP_RATE`` / ``LEAP_INTAKE_IP_BURST``
    Token bucket per client address: requests per second and burst (default 20/s, 200).
``LEAP_INTAKE_CODE_RATE`` / ``LEAP_INTAKE_CODE_BURST``
    Token bucket per access code: requests per second and burst (default 5/s, 300).

The buckets live in each server process: with ``--workers N`` a client may get up to N times the rate.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

# The environment parsers of the platform's settings, so a bad number is one clear error everywhere.
from leap.config import _float_env, _int_env

DEFAULT_PUBLIC_URL = "http://127.0.0.1:8000"
FORM_MAX_AGE_SECONDS = 8 * 3600  # a survey form left open over a school day still submits
ACK_TIMEOUT_SECONDS = 15.0  # longest wait for Kafka's acknowledgement before answering 503


@dataclass(frozen=True)
class IntakeConfig:
    public_url: str = DEFAULT_PUBLIC_URL
    max_body_bytes: int = 64 * 1024
    ip_rate: float = 20.0
    ip_burst: int = 200  # a class behind one school NAT opening the survey at once
    code_rate: float = 5.0
    code_burst: int = 300  # a shared teacher code used by a whole staff meeting
    linger_ms: int = 5  # the producer batches concurrent requests for this long (no per-request flush)


def load_intake_config() -> IntakeConfig:
    return IntakeConfig(
        public_url=(os.environ.get("LEAP_INTAKE_PUBLIC_URL") or DEFAULT_PUBLIC_URL).rstrip("/"),
        max_body_bytes=_int_env("LEAP_INTAKE_MAX_BODY_BYTES", IntakeConfig.max_body_bytes),
        ip_rate=_float_env("LEAP_INTAKE_IP_RATE", IntakeConfig.ip_rate),
        ip_burst=_int_env("LEAP_INTAKE_IP_BURST", IntakeConfig.ip_burst),
        code_rate=_float_env("LEAP_INTAKE_CODE_RATE", IntakeConfig.code_rate),
        code_burst=_int_env("LEAP_INTAKE_CODE_BURST", IntakeConfig.code_burst),
    )
