"""Domain errors. The API turns each into Rocket.Chat's envelope with its HTTP status."""

from __future__ import annotations


class DomainError(Exception):
    """A refused request. `error` is the Rocket.Chat error code shown to the caller."""

    status = 400
    error_type = "error-invalid-request"

    def __init__(
        self,
        error: str,
        details: str | None = None,
        *,
        error_type: str | None = None,
        retry_after_seconds: int | None = None,
    ) -> None:
        super().__init__(error)
        self.error = error
        self.details = details
        self.retry_after_seconds = retry_after_seconds  # when asking again can succeed (Retry-After)
        if error_type is not None:
            self.error_type = error_type


class InvalidInput(DomainError):
    status = 400
    error_type = "invalid-params"


class Unauthorized(DomainError):
    status = 401
    error_type = "unauthorized"


class Forbidden(DomainError):
    status = 403
    error_type = "error-not-allowed"


class NotFound(DomainError):
    status = 404
    error_type = "not-found"


class Conflict(DomainError):
    """The state forbids the change (a closed room, a taken inquiry)."""

    status = 400
    error_type = "error-invalid-state"
