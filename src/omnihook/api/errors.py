"""Rocket.Chat's error envelope: {success: false, error, errorType} with the right status.

Every failure of a request is answered here, in one place: the caller's mistakes (domain errors,
validation, values the database cannot store) as 4xx, a database that is unreachable, full, read-only or
locked as 503 with `Retry-After` (logged once per episode, not once per request), anything else as a 500
`internal-error` with its traceback logged. Each is a complete answer on a connection that stays open:
no exception is left for the server, which would log it again and close the connection.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from omnihook.domain.errors import DomainError
from omnihook.storage.availability import Unavailability, unavailability

log = logging.getLogger("omnihook.api")

RETRY_AFTER_SECONDS = 5


def error_response(status: int, error: str, error_type: str, details: str | None = None) -> JSONResponse:
    body: dict[str, Any] = {"success": False, "error": error, "errorType": error_type}
    if details:
        body["details"] = details
    if status == 401:
        # Rocket.Chat's REST layer answers unauthenticated calls with status/message too.
        body.update(status="error", message=details or "You must be logged in to do this.")
    return JSONResponse(body, status_code=status)


def _describe(errors: list[Any]) -> str:
    parts = []
    for err in errors:
        where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path"))
        parts.append(f"{where or 'body'}: {err.get('msg', 'invalid')}")
    return "; ".join(parts)


class Outage:
    """One log record when the database becomes unavailable, one when it is back.

    An unreachable database is back at the first statement it answers. A full, read-only or locked
    one still answers reads, so it is back only at the first write it commits.
    """

    def __init__(self) -> None:
        self.kind: Unavailability | None = None

    @property
    def active(self) -> bool:
        return self.kind is not None

    def failed(self, kind: Unavailability, exc: BaseException) -> None:
        if self.kind is None:
            cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
            log.error(
                "database %s: answering 503 until it is back (%s: %s)",
                kind.value,
                type(cause).__name__,
                str(cause).splitlines()[0][:200] if str(cause) else "",
            )
            self.kind = kind

    def answered(self) -> None:
        """The database ran a statement."""
        if self.kind is Unavailability.UNREACHABLE:
            self._back()

    def committed_write(self) -> None:
        """The database committed a transaction that changed rows."""
        if self.kind is not None:
            self._back()

    def _back(self) -> None:
        self.kind = None
        log.warning("database available again")


def unavailable_response() -> JSONResponse:
    response = error_response(
        503, "error-database-unavailable", "service-unavailable", "the database is unavailable: retry later"
    )
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def _not_storable() -> JSONResponse:
    return error_response(
        400, "invalid-params", "invalid-params", "a value is not storable text or is out of range"
    )


def response_for(exc: Exception, outage: Outage) -> JSONResponse:
    """The answer to an exception no route handled: the one mapping of failures to statuses."""
    if isinstance(exc, DomainError):
        return error_response(exc.status, exc.error, exc.error_type, exc.details)
    if isinstance(exc, DBAPIError):
        # SQLSTATE class 23 (a uniqueness race) and 22 (data exception: NUL byte, out of range)
        # are the caller's input, not our failure.
        state = str(getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None) or "")
        if isinstance(exc, IntegrityError) or state.startswith("23"):
            return error_response(
                400, "error-conflict", "error-invalid-state", "a concurrent change won: retry"
            )
        if state.startswith("22"):
            return _not_storable()
    if isinstance(exc, UnicodeEncodeError | OverflowError):
        # SQLite's driver refuses a lone surrogate or an integer beyond 64 bits before the statement runs.
        return _not_storable()
    kind = unavailability(exc)
    if kind is not None:
        outage.failed(kind, exc)
        return unavailable_response()
    log.error("unexpected error", exc_info=exc)
    return error_response(500, "error-internal", "internal-error", "an unexpected error was logged")


class ErrorBoundary:
    """The outermost middleware: an exception that escapes the app becomes its answer.

    Starlette's own last resort sends a 500 and then raises again, so that the server logs a second
    traceback and closes the connection; here the answer is complete and the connection kept. Only
    an exception after the answer has begun (a stream cut short) is left to the server, which must
    close the connection to tell the client that the body is incomplete.
    """

    def __init__(self, app: ASGIApp, outage: Outage) -> None:
        self.app = app
        self.outage = outage

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception as exc:
            if started:
                raise
            await response_for(exc, self.outage)(scope, receive, send)


def install_error_handlers(app: FastAPI) -> Outage:
    """The handlers of the caller's mistakes; `app.state.outage` (also returned) is for `ErrorBoundary`."""
    outage = Outage()
    app.state.outage = outage

    @app.exception_handler(DomainError)
    async def domain_error(_: Request, exc: DomainError) -> JSONResponse:
        response = error_response(exc.status, exc.error, exc.error_type, exc.details)
        if exc.retry_after_seconds is not None:
            response.headers["Retry-After"] = str(exc.retry_after_seconds)
        return response

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = _describe(list(exc.errors()))
        return error_response(400, details, "invalid-params", details)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        kinds = {404: "not-found", 405: "method-not-allowed", 401: "unauthorized", 403: "error-not-allowed"}
        return error_response(
            exc.status_code, str(exc.detail), kinds.get(exc.status_code, "error-invalid-request")
        )

    return outage
