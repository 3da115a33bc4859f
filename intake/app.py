"""The intake service as a FastAPI application: ``create_app()`` (uvicorn's factory) wires the JSON API
(:mod:`intake.api`), the survey pages (:mod:`intake.pages`), the request guard and the refusals.

The state of a server process (:class:`intake.submissions.Intake`: keys, access codes, producer, rate
limiters) is built when the application starts (its lifespan) and closed when it stops: the producer is
flushed before the process exits, so an acknowledged submission is never lost on SIGTERM. Building the
application itself touches nothing, so its OpenAPI description can be generated anywhere
(:func:`openapi_document`; committed as ``intake/openapi.json``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import HTMLResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from intake import api, pages
from intake.access import CodeStore
from intake.config import IntakeConfig, load_intake_config
from intake.forms import render
from intake.keys import load_keyring
from intake.producer import SubmissionProducer
from intake.ratelimit import RateLimiter
from intake.submissions import Intake, Refused
from leap.config import Settings, load_settings
from leap.instrument import load_catalog

OPENAPI_FILE = Path(__file__).parent / "openapi.json"
STYLESHEET = Path(__file__).parent / "static" / "survey.css"
UNGUARDED = {"/healthz", "/readyz"}  # probes are never rate-limited
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"), (b"x-frame-options", b"DENY"),
    (b"content-security-policy",
     b"default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
]
DESCRIPTION = """Takes survey submissions (event v1) and produces them to the submissions topic.

JSON clients post an event to `/v1/submissions` with an access code; people take the survey in a browser
at a survey link (`/s/<school>/<instrument>/<school_year>/<term>`). Every submission is checked by the
ingestion's own validator: refusals carry the dead-letter reason codes. See docs/intake.md."""


def create_app(settings: Settings | None = None, config: IntakeConfig | None = None,
               clock: Callable[[], datetime] | None = None) -> FastAPI:
    """The application; ``settings``, ``config`` and ``clock`` default to the environment and the UTC time."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        intake = build_intake(settings or load_settings(), config or load_intake_config(), clock or _utc_now)
        intake.producer.start()
        app.state.intake = intake
        try:
            yield
        finally:
            intake.producer.close()  # flush: every acknowledged-to-be submission reaches Kafka
            intake.store.close()

    app = FastAPI(title="LEAP survey intake", version="1.0.0", description=DESCRIPTION, docs_url=None,
                  redoc_url=None, lifespan=lifespan)
    app.include_router(api.router)
    app.include_router(pages.router)
    app.add_api_route("/static/survey.css", _stylesheet, include_in_schema=False)
    app.add_exception_handler(Refused, _refused)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_middleware(RequestGuard)
    return app


def build_intake(settings: Settings, config: IntakeConfig, clock: Callable[[], datetime]) -> Intake:
    return Intake(settings=settings, config=config, catalog=load_catalog(), keyring=load_keyring(settings),
                  store=CodeStore(settings.layout.intake_codes),
                  producer=SubmissionProducer(settings, linger_ms=config.linger_ms),
                  ip_limiter=RateLimiter(config.ip_rate, config.ip_burst),
                  code_limiter=RateLimiter(config.code_rate, config.code_burst), clock=clock)


def openapi_document() -> str:
    """The OpenAPI description as committed in ``intake/openapi.json``."""
    return json.dumps(create_app().openapi(), indent=2, ensure_ascii=False) + "\n"


def _utc_now() -> datetime:
    return datetime.now(UTC)


async def _stylesheet() -> Response:
    return Response(STYLESHEET.read_bytes(), media_type="text/css", headers={"Cache-Control": "public, max-age=3600"})


async def _refused(request: Request, exc: Refused) -> Response:
    return refusal_response(request.url.path, exc)


async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
    """Routing errors (no such page, wrong method) as a page under the survey links, as JSON elsewhere:
    every answer under /s/ is HTML, as the OpenAPI description says."""
    if not request.url.path.startswith("/s/"):
        return await http_exception_handler(request, exc)
    text = ("Page not found", "There is no survey page at this address.") if exc.status_code == 404 else \
        ("Not possible", "This page cannot be used that way.")
    page = render("message.html", title=text[0], message=text[1], next_step="Check the link you were given.",
                  back=None)
    return HTMLResponse(page, status_code=exc.status_code, headers=exc.headers)


def refusal_response(path: str, exc: Refused) -> Response:
    """A refusal as the page a respondent reads (survey pages) or as ``{"error", "detail"}`` (the API)."""
    headers = {"Retry-After": str(math.ceil(exc.retry_after))} if exc.retry_after else None
    if not path.startswith("/s/"):
        return api.json_response({"error": exc.reason, "detail": exc.detail}, exc.status, headers)
    page = render("message.html", **pages.refusal_text(exc), back=pages.survey_path(path, exc))
    return HTMLResponse(page, status_code=exc.status, headers={**(headers or {}), "Cache-Control": "no-store"})


class RequestGuard:
    """Pure ASGI middleware in front of every route: the rate limit per client address, the body size
    limit (a declared Content-Length over it is refused before a byte is read; a streamed body as soon as
    it passes it), and security headers on every response."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if scope["path"] not in UNGUARDED:
            intake = scope["app"].state.intake
            refusal = _over_limits(intake, scope)
            if refusal is not None:
                return await refusal_response(scope["path"], refusal)(scope, receive, _secured(send))
            receive = _capped(receive, intake.config.max_body_bytes)
        await self.app(scope, receive, _secured(send))


def _over_limits(intake: Intake, scope) -> Refused | None:
    client = (scope.get("client") or ("unknown", 0))[0]
    wait = intake.ip_limiter.take(f"ip:{client}")
    if wait:
        return Refused("rate_limited", "too many requests from this address", retry_after=wait)
    declared = dict(scope["headers"]).get(b"content-length", b"0")
    if declared.isdigit() and int(declared) > intake.config.max_body_bytes:
        return Refused("body_too_large", f"the body is larger than {intake.config.max_body_bytes} bytes")
    return None


def _capped(receive, limit: int):
    seen = 0

    async def capped_receive():
        nonlocal seen
        message = await receive()
        seen += len(message.get("body", b""))
        if seen > limit:  # a chunked body that keeps coming
            raise Refused("body_too_large", f"the body is larger than {limit} bytes")
        return message

    return capped_receive


def _secured(send):
    async def secured_send(message):
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
        await send(message)

    return secured_send
