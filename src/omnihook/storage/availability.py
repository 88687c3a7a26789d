"""Whether a database error says the database is away (unreachable, shutting down, full, locked), not
the input; and the engine events that say it answers again."""

from __future__ import annotations

import enum
import sqlite3
from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncEngine


class Unavailability(enum.Enum):
    UNREACHABLE = "unreachable"  # no connection, or the server is shutting down: nothing answers
    FULL = "full"  # the disk is full: reads still answer, writes fail
    READ_ONLY = "read-only"  # a file system remounted read-only, a standby: reads answer, writes fail
    LOCKED = "locked"  # another process holds the write lock past the busy timeout


# PostgreSQL SQLSTATEs: class 08 connection exception, 57P admin shutdown / crash shutdown / cannot
# connect now, 53 insufficient resources (53100 disk full, 53200 out of memory, 53300 too many
# connections), 55000 object not in prerequisite state (a database not accepting connections), 25006
# read-only SQL transaction (a standby after a failover).
_PG_UNREACHABLE = ("08", "57P", "55000", "53200", "53300")
_PG_FULL = ("53",)
_PG_READ_ONLY = ("25006",)
# SQLite primary result codes (the low byte of the extended code).
_SQLITE = {
    sqlite3.SQLITE_FULL: Unavailability.FULL,
    sqlite3.SQLITE_BUSY: Unavailability.LOCKED,
    sqlite3.SQLITE_LOCKED: Unavailability.LOCKED,
    sqlite3.SQLITE_IOERR: Unavailability.UNREACHABLE,
    sqlite3.SQLITE_CANTOPEN: Unavailability.UNREACHABLE,
    sqlite3.SQLITE_READONLY: Unavailability.READ_ONLY,
}
_SQLITE_TEXT = {
    "database or disk is full": Unavailability.FULL,
    "database is locked": Unavailability.LOCKED,
    "disk i/o error": Unavailability.UNREACHABLE,
    "unable to open database": Unavailability.UNREACHABLE,
    "readonly": Unavailability.READ_ONLY,
}


def unavailability(exc: BaseException) -> Unavailability | None:
    """How the database is unavailable, if `exc` says it is (rather than blaming the input)."""
    if isinstance(exc, PoolTimeout):
        return Unavailability.UNREACHABLE  # every connection is stuck: the database does not answer
    if isinstance(exc, DBAPIError):
        state = str(getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None) or "")
        if state.startswith(_PG_UNREACHABLE):
            return Unavailability.UNREACHABLE
        if state.startswith(_PG_FULL):
            return Unavailability.FULL
        if state.startswith(_PG_READ_ONLY):
            return Unavailability.READ_ONLY
        if isinstance(exc.orig, sqlite3.Error) and (kind := _sqlite_unavailability(exc.orig)) is not None:
            return kind
        if exc.connection_invalidated:
            return Unavailability.UNREACHABLE
        return None
    if isinstance(exc, sqlite3.Error):  # raised by a statement run on the driver itself
        return _sqlite_unavailability(exc)
    if isinstance(exc, ConnectionError | TimeoutError):
        return Unavailability.UNREACHABLE
    if isinstance(exc, OSError) and not isinstance(exc, FileNotFoundError):
        return Unavailability.UNREACHABLE  # connecting failed below SQLAlchemy (refused, unreachable)
    return None


def _sqlite_unavailability(exc: sqlite3.Error) -> Unavailability | None:
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int) and code & 0xFF in _SQLITE:
        return _SQLITE[code & 0xFF]
    if isinstance(exc, sqlite3.OperationalError):
        text = str(exc).lower()
        for fragment, kind in _SQLITE_TEXT.items():
            if fragment in text:
                return kind
    return None


def database_unavailable(exc: BaseException) -> bool:
    """True when `exc` says the database cannot be reached or cannot write (not the caller's input)."""
    return unavailability(exc) is not None


def watch_answers(
    engine: AsyncEngine, *, answered: Callable[[], None], committed_write: Callable[[], None]
) -> None:
    """Call `answered` after each statement the database ran, and `committed_write` once a transaction
    that changed rows has committed: the signs that an unavailable database is back."""
    sync_engine = engine.sync_engine
    wrote, committing = "omnihook_wrote", "omnihook_committing"

    def forget(conn: Any) -> None:
        if not conn.invalidated:  # an invalidated connection has no record left to mark
            conn.info.pop(wrote, None)
            conn.info.pop(committing, None)

    @event.listens_for(sync_engine, "after_cursor_execute")
    def _ran(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        answered()
        dml = context is not None and (context.isinsert or context.isupdate or context.isdelete)
        if dml and cursor.rowcount != 0:
            conn.info[wrote] = True

    @event.listens_for(sync_engine, "commit")
    def _commit(conn: Any) -> None:  # before the COMMIT is sent
        if not conn.invalidated and conn.info.pop(wrote, False):
            conn.info[committing] = True

    @event.listens_for(sync_engine, "rollback")
    def _rollback(conn: Any) -> None:
        forget(conn)

    @event.listens_for(sync_engine, "handle_error")
    def _failed(context: Any) -> None:  # a statement or the COMMIT itself failed
        if context.connection is not None:
            forget(context.connection)

    @event.listens_for(sync_engine, "checkin")
    def _checkin(dbapi_connection: Any, record: Any) -> None:  # the COMMIT, if any, went through
        if record is not None and record.info.pop(committing, False):
            committed_write()
