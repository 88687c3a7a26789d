"""The database handle and the unit of work that every use case runs in."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from datetime import datetime
from types import TracebackType
from typing import Any

from sqlalchemy import event, insert
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from omnihook.domain.clock import iso
from omnihook.domain.events import DomainEvent
from omnihook.storage import group_commit
from omnihook.storage.group_commit import GroupCommit
from omnihook.storage.sqlite_inline import run_inline
from omnihook.storage.tables import domain_events

# Runs inside the transaction, after the change, before the commit (the webhook outbox).
BeforeCommitHook = Callable[[AsyncConnection, list[DomainEvent]], Awaitable[None]]
# Runs after a successful commit (wake the dispatcher, push live updates). Must not block.
AfterCommitListener = Callable[[list[DomainEvent]], None]


def async_url(url: str) -> str:
    """Map the user's URL to its async driver: sqlite → aiosqlite, postgresql → asyncpg."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return str(parsed.set(drivername="sqlite+aiosqlite"))
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)
    raise ValueError(f"unsupported database URL {parsed.drivername!r}: use sqlite:/// or postgresql://")


class Database:
    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = async_url(url)
        self.dialect = make_url(self.url).get_backend_name()
        if self.is_sqlite:
            self.engine: AsyncEngine = create_async_engine(self.url, pool_size=pool_size, max_overflow=0)
            run_inline(self.engine)  # no thread hop per statement: see sqlite_inline
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        else:
            self.engine = create_async_engine(self.url, pool_size=pool_size, max_overflow=pool_size)
        # SQLite has one writer at a time: queue writers in-process instead of spinning on busy_timeout,
        # and let units of work that end together share a commit (see group_commit).
        self.group = group_commit.for_file(make_url(self.url).database or "") if self.is_sqlite else None
        self._write_lock = self.group.lock if self.group is not None else None
        self.before_commit: list[BeforeCommitHook] = []
        self.after_commit: list[AfterCommitListener] = []

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    def transaction(self) -> UnitOfWork:
        """One unit of work: `async with db.transaction() as uow: ...` commits on success."""
        return UnitOfWork(self)

    def write_lock(self) -> _LockGuard:
        """The in-process writer lock on SQLite (a no-op on PostgreSQL), for code outside a unit of work."""
        return _LockGuard(self._write_lock, self.group)

    async def dispose(self) -> None:
        await self.engine.dispose()


class _LockGuard:
    def __init__(self, lock: asyncio.Lock | None, group: GroupCommit | None) -> None:
        self._lock = lock
        self._group = group

    async def __aenter__(self) -> None:
        if self._lock is not None:
            await self._lock.acquire()
            if self._group is not None and self._group.open:
                # Another writer: the shared transaction holds SQLite's write lock, so commit it first.
                try:
                    await self._group.commit()
                except BaseException:
                    self._lock.release()
                    raise

    async def __aexit__(self, *exc: object) -> None:
        if self._lock is not None:
            self._lock.release()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


class UnitOfWork:
    """A transaction plus the domain events it records.

    On success the events are stored, the before-commit hooks run on the same connection
    (so outbox rows commit with the change, or not at all), then the after-commit listeners.
    """

    def __init__(self, db: Database) -> None:
        self.db = db
        self.events: list[DomainEvent] = []
        self._conn: AsyncConnection | None = None
        self._holds_lock = False

    @property
    def conn(self) -> AsyncConnection:
        assert self._conn is not None, "the unit of work is not open"
        return self._conn

    def record(self, *events: DomainEvent) -> None:
        self.events.extend(events)

    async def __aenter__(self) -> UnitOfWork:
        if self.db._write_lock is not None:
            await self.db._write_lock.acquire()
            self._holds_lock = True
        try:
            if self.db.group is not None:
                self._conn = await self.db.group.join(self.db.engine)
            else:
                self._conn = await self.db.engine.connect()
                await self._conn.begin()
        except BaseException:
            await self._release()
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.db.group is not None:
            await self._end_in_group(self.db.group, failed=exc_type is not None)
            return
        committed = False
        try:
            if exc_type is None:
                await self._record_events()
                await self.conn.commit()
                committed = True
            else:
                await self.conn.rollback()
        finally:
            await self._release()
        if committed:
            self._committed()

    async def _end_in_group(self, group: GroupCommit, *, failed: bool) -> None:
        if failed:
            await group.failed()
            await self._release(close=False)
            return
        try:
            await self._record_events()
        except BaseException:
            await group.failed()
            await self._release(close=False)
            raise
        committed = await group.succeeded()
        await self._release(close=False)
        await committed
        self._committed()

    async def _record_events(self) -> None:
        """The domain events, then the before-commit hooks (the outbox), in the transaction."""
        if self.events:
            rows = [_event_row(e) for e in self.events]
            # one row as one statement: a list, even of one, takes SQLAlchemy's executemany path
            await self.conn.execute(_INSERT_EVENTS, rows[0] if len(rows) == 1 else rows)
            for hook in self.db.before_commit:
                await hook(self.conn, self.events)

    def _committed(self) -> None:
        if self.events:
            for listener in self.db.after_commit:
                listener(self.events)

    async def _release(self, *, close: bool = True) -> None:
        try:
            if self._conn is not None and close:
                await self._conn.close()
        finally:
            self._conn = None
            if self._holds_lock and self.db._write_lock is not None:
                self._holds_lock = False
                self.db._write_lock.release()


_INSERT_EVENTS = insert(domain_events)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _jsonable(dataclasses.asdict(value))
    return value


_DATA_FIELDS: dict[type[DomainEvent], tuple[str, ...]] = {}


def _data_fields(kind: type[DomainEvent]) -> tuple[str, ...]:
    names = _DATA_FIELDS.get(kind)
    if names is None:
        names = tuple(f.name for f in dataclasses.fields(kind) if f.name not in ("room_id", "occurred_at"))
        _DATA_FIELDS[kind] = names
    return names


def _event_row(event_: DomainEvent) -> dict[str, Any]:
    # Field by field, not dataclasses.asdict: that deep-copies every value (a fifth of this row's cost).
    data = {name: getattr(event_, name) for name in _data_fields(type(event_))}
    return {
        "kind": event_.kind,
        "room_id": event_.room_id,
        "occurred_at": event_.occurred_at,
        "data": _jsonable(data),
    }
