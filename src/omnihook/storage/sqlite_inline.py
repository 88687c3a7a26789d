"""SQLite statements run inline on the event loop instead of hopping to aiosqlite's thread.

aiosqlite runs each call (cursor, execute, fetch, close, commit) on a thread of its own and wakes the
loop when it is done: four thread hops for one statement, about 200 µs, where SQLite itself answers in
a few µs. The profile of the message path showed those hops as the largest cost. Here SQLAlchemy's
aiosqlite adapter is kept (same dialect, same exceptions: aiosqlite re-exports sqlite3's) but given a
connection whose awaitables complete at once.

This is sound for omnihook's SQLite because writers in one process already queue on the unit of
work's lock, WAL lets readers proceed during a write, and every query is short and indexed. A write
by another process (a CLI command) can make a statement wait on SQLite's busy timeout, blocking the
loop meanwhile: that is the price, acceptable for the embedded single-server default.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import event
from sqlalchemy.dialects.sqlite.aiosqlite import AsyncAdapt_aiosqlite_connection
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine


class InlineCursor:
    """aiosqlite.Cursor's shape over a sqlite3 cursor."""

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    async def __aenter__(self) -> InlineCursor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._cursor.close()

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> InlineCursor:
        if parameters is None:
            self._cursor.execute(sql)
        else:
            self._cursor.execute(sql, parameters)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Sequence[Any]]) -> InlineCursor:
        self._cursor.executemany(sql, parameters)
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(size) if size is not None else self._cursor.fetchmany()

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()

    async def setinputsizes(self, *sizes: Any) -> None:
        return None

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value


class _Inline:
    """Stands for aiosqlite's queue to its thread (the adapter's isolation_level setter posts there)."""

    @staticmethod
    def put_nowait(item: tuple[Any, Any]) -> None:
        future, function = item
        try:
            future.set_result(function())
        except Exception as exc:
            future.set_exception(exc)


class InlineConnection:
    """aiosqlite.Connection's shape over a sqlite3 connection, as SQLAlchemy's adapter uses it."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        # the adapter tests `_connection` to know whether the connection is still open
        self._connection: sqlite3.Connection | None = conn
        self._tx = _Inline()

    def cursor(self) -> InlineCursor:
        return InlineCursor(self._conn.cursor())

    async def commit(self) -> None:
        self._conn.commit()

    async def rollback(self) -> None:
        self._conn.rollback()

    async def close(self) -> None:
        if self._connection is not None:
            self._connection = None
            self._conn.close()

    def stop(self) -> None:
        if self._connection is not None:
            self._connection = None
            self._conn.close()

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._conn.create_function(*args, **kwargs)

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level

    @property
    def sqlite(self) -> sqlite3.Connection:
        return self._conn


def run_inline(engine: AsyncEngine) -> None:
    """Make `engine` (sqlite+aiosqlite) open inline connections, with the arguments its dialect computed."""

    @event.listens_for(engine.sync_engine, "do_connect")
    def connect(dialect: Dialect, _record: Any, cargs: list[Any], cparams: dict[str, Any]) -> Any:
        conn = sqlite3.connect(*cargs, **cparams)
        return AsyncAdapt_aiosqlite_connection(dialect.loaded_dbapi, InlineConnection(conn))  # type: ignore[arg-type]


async def driver_connection(conn: AsyncConnection) -> sqlite3.Connection:
    """The sqlite3 connection under `conn`: statements run on it belong to `conn`'s transaction (for the
    few hot statements that are cheaper written for the driver than built by SQLAlchemy each time)."""
    raw = await conn.get_raw_connection()
    inline = raw.driver_connection
    assert isinstance(inline, InlineConnection), "an inline SQLite connection (see run_inline)"
    return inline.sqlite
