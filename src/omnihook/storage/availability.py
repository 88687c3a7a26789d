"""Whether a database error says the database is away (unreachable, shutting down, full), not the input."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, OperationalError

_UNAVAILABLE_STATES = ("08", "53", "57P")  # connection, insufficient resources (disk full), shutdown
_UNAVAILABLE_TEXT = ("unable to open database", "disk i/o error", "database or disk is full", "readonly")


def database_unavailable(exc: BaseException) -> bool:
    """True when `exc` says the database cannot be reached or cannot write (not the caller's input)."""
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        state = str(getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None) or "")
        if state.startswith(_UNAVAILABLE_STATES) or state == "55000":
            return True
        return isinstance(exc, OperationalError) and any(
            t in str(exc.orig).lower() for t in _UNAVAILABLE_TEXT
        )
    return isinstance(exc, (ConnectionError, TimeoutError)) or (
        isinstance(exc, OSError) and not isinstance(exc, FileNotFoundError)
    )
