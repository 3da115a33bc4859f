"""The one path every submission takes, from the JSON API or a survey form.

1. the event is checked by the consumer's validator (:func:`ingestion.contract.check_submission`): a
   rejection is refused with the dead-letter reason code (``invalid_json`` 400, the others 422);
2. the access code must open this survey (school, instrument, school year, term) and the survey's
   window must be open now;
3. a single-use code is spent on this submission id (a resend of the same id passes again);
4. the original bytes are produced to the submissions topic, key = school id, and the request waits
   for Kafka's acknowledgement (``acks=all``) before answering 202.

A refusal at any step produces nothing. A resend of an accepted submission id is produced again and
answered 202 again: the ingestion's registry of stored ids (:mod:`ingestion.registry`) keeps one copy.

Nothing here logs a respondent id, an access code or an answer: refusals are logged by reason only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from ingestion.contract import REASONS, Rejected, check_submission
from intake.access import Access, CodeStore, Survey, is_open
from intake.config import ACK_TIMEOUT_SECONDS, IntakeConfig
from intake.forms import window_text
from intake.keys import Keyring
from intake.producer import BrokerUnavailable, SubmissionProducer
from intake.ratelimit import RateLimiter
from leap.config import Settings
from leap.instrument import Catalog

log = logging.getLogger(__name__)

# Every reason a request is refused for -> its HTTP status. The event contract's reasons first (the
# dead-letter codes), then the intake's own.
STATUS = {
    **{reason: 422 for reason in REASONS}, "invalid_json": 400, "invalid_form": 400,
    "access_code_missing": 401, "access_code_invalid": 401,
    "access_code_used": 403, "access_code_mismatch": 403, "outside_window": 403, "csrf_failed": 403,
    "form_expired": 403,
    "not_found": 404, "body_too_large": 413, "rate_limited": 429, "broker_unavailable": 503,
}
ERROR_CODES = tuple(STATUS)


class Refused(Exception):
    """A request the service turns down; ``reason`` is one of :data:`ERROR_CODES`."""

    def __init__(self, reason: str, detail: str, retry_after: float | None = None):
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail, self.retry_after = reason, detail, retry_after
        self.status = STATUS[reason]


def closed(survey: Survey) -> Refused:
    return Refused("outside_window", f"the {survey.term} {survey.school_year} survey is open {window_text(survey)}")


@dataclass
class Intake:
    """The state of one server process."""

    settings: Settings
    config: IntakeConfig
    catalog: Catalog
    keyring: Keyring
    store: CodeStore
    producer: SubmissionProducer
    ip_limiter: RateLimiter
    code_limiter: RateLimiter
    clock: Callable[[], datetime]

    def access(self, code: str | None) -> Access:
        """The access a code gives, within its rate limit; :class:`Refused` otherwise."""
        if not code:
            raise Refused("access_code_missing", "an access code is required")
        access = self.store.find(self.keyring, code)
        if access is None:
            raise Refused("access_code_invalid", "this access code is not valid")
        self.limit_code(access)
        return access

    def limit_code(self, access: Access) -> None:
        wait = self.code_limiter.take(f"code:{access.code_id}")
        if wait:
            raise Refused("rate_limited", "too many requests with this access code", retry_after=wait)

    def open_for(self, access: Access, survey: Survey, submission_id: str | None = None) -> None:
        """The code opens this survey, the survey is open now, and a single-use code is unspent (or spent
        on this very submission: a resend)."""
        if survey != access.survey:
            raise Refused("access_code_mismatch", "this access code is for another survey "
                          f"({access.survey.school_id} {access.survey.instrument} {access.survey.school_year} "
                          f"{access.survey.term})")
        if not is_open(survey, self.clock()):
            raise closed(survey)
        if access.single_use and access.used_by not in (None, submission_id):
            raise Refused("access_code_used", "this access code has already been used")

    async def accept(self, raw: bytes, access: Access) -> str:
        """Steps 1-4 of the module docstring; the submission id, or :class:`Refused`."""
        event = self._checked(raw)
        submission_id = event["submission_id"]
        survey = Survey(event["school_id"], event["instrument"], event["school_year"], event["term"])
        self.open_for(access, survey, submission_id)
        if not self.store.claim(access, submission_id):
            raise Refused("access_code_used", "this access code has already been used")
        await self._produce(event["school_id"], raw, access, submission_id)
        log.debug("accepted a submission for %s", survey.path)
        return submission_id

    def _checked(self, raw: bytes) -> dict:
        try:
            return check_submission(raw, self.catalog)
        except Rejected as exc:
            log.info("refused a submission: %s", exc.reason)  # the detail may quote the event: not logged
            raise Refused(exc.reason, exc.detail) from None

    async def _produce(self, school_id: str, raw: bytes, access: Access, submission_id: str) -> None:
        try:
            await self.producer.send(school_id.encode(), raw, ACK_TIMEOUT_SECONDS)
        except BrokerUnavailable as exc:
            if exc.definite:  # surely not produced: the code may be used again; unknown: keep it for a resend
                self.store.release(access, submission_id)
            log.warning("could not produce a submission: %s", exc)
            raise Refused("broker_unavailable", "the survey service cannot store answers right now; "
                          "please send them again in a minute", retry_after=30) from None
