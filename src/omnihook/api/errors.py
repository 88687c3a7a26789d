"""Rocket.Chat's error envelope: {success: false, error, errorType} with the right status."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

from omnihook.domain.errors import DomainError
from omnihook.storage.availability import database_unavailable

log = logging.getLogger("omnihook.api")


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


RETRY_AFTER_SECONDS = 5


class _Outage:
    """One log line per episode of an unavailable database; the episode ends at the next good answer."""

    def __init__(self) -> None:
        self.active = False

    def failed(self, exc: BaseException) -> None:
        if not self.active:
            self.active = True
            log.error("database unavailable, answering 503 until it is back: %s", exc.__class__.__name__)

    def recovered(self) -> None:
        if self.active:
            self.active = False
            log.warning("database available again")


outage = _Outage()


def unavailable_response() -> JSONResponse:
    response = error_response(
        503, "error-database-unavailable", "service-unavailable", "the database is unavailable: retry later"
    )
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def domain_error(_: Request, exc: DomainError) -> JSONResponse:
        return error_response(exc.status, exc.error, exc.error_type, exc.details)

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

    @app.exception_handler(DBAPIError)
    async def database_refused(_: Request, exc: DBAPIError) -> JSONResponse:
        # SQLSTATE class 22 (data exception: NUL byte, out of range) and 23 (a uniqueness race) are
        # the caller's input, not our failure.
        state = str(getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None) or "")
        if isinstance(exc, IntegrityError) or state.startswith("23"):
            return error_response(
                400, "error-conflict", "error-invalid-state", "a concurrent change won: retry"
            )
        if database_unavailable(exc):
            outage.failed(exc)
            return unavailable_response()
        if state.startswith("22"):
            return error_response(
                400, "invalid-params", "invalid-params", "a value is not storable text or is out of range"
            )
        log.exception("database error", exc_info=exc)
        return error_response(500, "error-internal", "internal-error", "an unexpected error was logged")

    @app.exception_handler(UnicodeEncodeError)
    @app.exception_handler(OverflowError)
    async def not_storable(_: Request, exc: Exception) -> JSONResponse:
        # SQLite's driver refuses a lone surrogate or an integer beyond 64 bits before the statement runs.
        return error_response(
            400, "invalid-params", "invalid-params", "a value is not storable text or is out of range"
        )

    @app.exception_handler(OSError)
    async def unreachable(_: Request, exc: OSError) -> JSONResponse:
        # Connecting to PostgreSQL failed below SQLAlchemy (refused, reset, timed out).
        if database_unavailable(exc):
            outage.failed(exc)
            return unavailable_response()
        log.exception("unexpected error", exc_info=exc)
        return error_response(500, "error-internal", "internal-error", "an unexpected error was logged")

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error", exc_info=exc)
        return error_response(500, "error-internal", "internal-error", "an unexpected error was logged")
