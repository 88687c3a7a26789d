"""Workspace settings (Rocket.Chat's setting ids) kept as JSON values in the `settings` table.

Reads are answered from a per-database cache of the whole (small) table, so that the chat's hot path
(lead capture, transcripts) costs no query. A write in this process invalidates it when its transaction
ends; another process's write is seen within `CACHE_TTL` seconds. A connection that has written settings
reads past the cache until its transaction ends, so it sees its own writes.
"""

from __future__ import annotations

import copy
import time
import weakref
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, Engine, event, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from omnihook.domain.clock import utcnow
from omnihook.storage.tables import settings

CACHE_TTL = 2.0
_WROTE = "omnihook.settings_written"
_ALL = select(settings.c.id, settings.c.value)


class _Cache:
    def __init__(self) -> None:
        self.values: dict[str, Any] | None = None
        self.loaded_at = 0.0
        self.generation = 0

    def invalidate(self) -> None:
        self.values = None
        self.generation += 1


_caches: weakref.WeakKeyDictionary[Engine, _Cache] = weakref.WeakKeyDictionary()


def _cache_of(engine: Engine) -> _Cache:
    cache = _caches.get(engine)
    if cache is None:
        cache = _caches[engine] = _Cache()
        event.listen(engine, "commit", _transaction_ended)
        event.listen(engine, "rollback", _transaction_ended)
    return cache


def _transaction_ended(connection: Connection) -> None:
    # An invalidated connection has no record left to read: the cache may hold what it wrote, drop it.
    if connection.invalidated or connection.info.pop(_WROTE, False):
        _cache_of(connection.engine).invalidate()


async def _all_settings(conn: AsyncConnection) -> dict[str, Any]:
    return {row.id: row.value for row in await conn.execute(_ALL)}


async def read_settings(conn: AsyncConnection, ids: Iterable[str]) -> dict[str, Any]:
    """The stored values of `ids` (missing ids are absent from the result: apply defaults upstream)."""
    sync = conn.sync_connection
    if sync is not None and not sync.invalidated and sync.info.get(_WROTE):
        values = await _all_settings(conn)
    else:
        cache = _cache_of(conn.sync_engine)
        now = time.monotonic()
        if cache.values is not None and now - cache.loaded_at <= CACHE_TTL:
            values = cache.values
        else:
            generation = cache.generation
            values = await _all_settings(conn)
            if generation == cache.generation:  # not kept when a write ended meanwhile
                cache.values, cache.loaded_at = values, now
    # a copy of lists and objects: a caller changing its value must not change the cache
    return {
        k: copy.deepcopy(values[k]) if isinstance(values[k], list | dict) else values[k]
        for k in ids
        if k in values
    }


async def write_settings(conn: AsyncConnection, values: Mapping[str, Any]) -> None:
    """Insert or replace each setting, in the caller's transaction."""
    if conn.sync_connection is not None and not conn.sync_connection.invalidated:
        conn.sync_connection.info[_WROTE] = True
    _cache_of(conn.sync_engine).invalidate()
    now = utcnow()
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    for setting_id, value in values.items():
        stmt = insert(settings).values(id=setting_id, value=value, updated_at=now)
        await conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[settings.c.id], set_={"value": value, "updated_at": now}
            )
        )


__all__ = ["read_settings", "write_settings"]
