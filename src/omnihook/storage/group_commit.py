"""SQLite group commit: units of work that end close together share one transaction and one commit.

SQLite has one writer, so a server's units of work already take turns (the write lock). Each commit
writes every page it touched to the WAL: the message table's page, its indexes, the room's row, the
outbox's pages. Units of work that end in the same turn of the event loop write many of the same pages.
So the first one opens a transaction on a connection they share; each runs inside a savepoint of its own
(a failure rolls back its own work and nothing else) and, when it succeeds, waits for the commit. The
commit comes on the next turn of the loop, or at once when the batch is full or another writer asks for
the lock. A unit of work returns only after the commit that holds its change: a request is answered
when its change is durable, as before.

If SQLite aborts the whole transaction (a full disk, an I/O error), every unit of work waiting in it gets
that error: none of them was answered yet.

There is one per database file in a process (`for_file`), with the file's write lock: two handles on one
file (a server and a worker in one process, a test and its app) take turns instead of one waiting on the
other's open transaction inside SQLite, which would block the event loop the commit needs.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import weakref

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from omnihook.storage.sqlite_inline import driver_connection

MAX_BATCH = 64  # units of work in one commit at most: bounds the time the first one waits
_SAVEPOINT = "unit_of_work"


_by_file: weakref.WeakValueDictionary[str, GroupCommit] = weakref.WeakValueDictionary()


def for_file(path: str) -> GroupCommit:
    """The group commit (and write lock) of the SQLite file at `path` in this process; each handle on
    the file keeps a reference to it."""
    key = os.path.abspath(path)
    group = _by_file.get(key)
    if group is None:
        group = _by_file[key] = GroupCommit()
    return group


class GroupCommit:
    """The shared transaction. Every method but `_flush_soon`'s task runs with `lock` held."""

    def __init__(self) -> None:
        self.lock = asyncio.Lock()  # the file's one writer, in this process
        self._conn: AsyncConnection | None = None
        self._raw: sqlite3.Connection | None = None
        self._waiting: list[asyncio.Future[None]] = []
        self._broken: BaseException | None = None
        self._flush: asyncio.Task[None] | None = None

    @property
    def open(self) -> bool:
        return self._conn is not None

    async def join(self, engine: AsyncEngine) -> AsyncConnection:
        """The shared connection (opened from `engine` when none is), in a savepoint of the caller's own."""
        if self._conn is None:
            conn = await engine.connect()
            try:
                await conn.begin()
                raw = await driver_connection(conn)
                # Explicit, so that releasing a savepoint commits nothing; IMMEDIATE, so that it holds the
                # write lock from the start: a deferred one would read a snapshot that another process's
                # commit makes stale, and its first write would fail at once ("database is locked").
                raw.execute("BEGIN IMMEDIATE")
            except BaseException:
                await conn.close()
                raise
            self._conn, self._raw = conn, raw
        assert self._raw is not None
        try:
            self._raw.execute(f"SAVEPOINT {_SAVEPOINT}")
        except sqlite3.Error:
            self._broken_by_error()
            raise
        return self._conn

    async def succeeded(self) -> asyncio.Future[None]:
        """Keep the caller's work; the future resolves once it is committed (or fails with the commit)."""
        assert self._raw is not None
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append(future)
        try:
            self._raw.execute(f"RELEASE {_SAVEPOINT}")
        except sqlite3.Error as exc:
            self._broken = exc
        if len(self._waiting) >= MAX_BATCH:
            await self.commit()
        else:
            self._flush_soon()
        return future

    async def failed(self) -> None:
        """Undo the caller's work only; alone in the transaction, end it now rather than hold the
        write lock until the next turn of the loop."""
        if self._raw is None:
            return
        if not self._waiting and self._broken is None:
            conn = self._conn
            self._conn, self._raw = None, None
            assert conn is not None
            try:
                with contextlib.suppress(Exception):
                    await conn.rollback()
            finally:
                await conn.close()
            return
        try:
            self._raw.execute(f"ROLLBACK TO {_SAVEPOINT}")
            self._raw.execute(f"RELEASE {_SAVEPOINT}")
        except sqlite3.Error as exc:
            self._broken = exc  # SQLite rolled the whole transaction back: the others' work went with it
        self._flush_soon()

    async def commit(self) -> None:
        """Commit what is waiting now and close the shared connection."""
        conn, waiting, error = self._conn, self._waiting, self._broken
        self._conn, self._raw, self._waiting, self._broken = None, None, [], None
        if conn is None:
            return
        try:
            if error is None:
                await conn.commit()
        except BaseException as exc:
            error = exc
        finally:
            if error is not None:
                with contextlib.suppress(Exception):
                    await conn.rollback()
            await conn.close()
        for future in waiting:
            if future.done():  # its request was cancelled: the commit happened (or not) all the same
                continue
            if error is None:
                future.set_result(None)
            else:
                future.set_exception(error)

    def _broken_by_error(self) -> None:
        self._broken = self._broken or sqlite3.OperationalError("the shared transaction failed")
        self._flush_soon()

    def _flush_soon(self) -> None:
        if self._flush is None:
            self._flush = asyncio.get_running_loop().create_task(self._flush_when_free())

    async def _flush_when_free(self) -> None:
        try:
            async with self.lock:  # after the units of work already queued for it: they join first
                await self.commit()
        finally:
            self._flush = None
