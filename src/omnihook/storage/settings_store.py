"""Workspace settings (Rocket.Chat's setting ids) kept as JSON values in the `settings` table."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from omnihook.domain.clock import utcnow
from omnihook.storage.tables import settings


async def read_settings(conn: AsyncConnection, ids: Iterable[str]) -> dict[str, Any]:
    """The stored values of `ids` (missing ids are absent from the result: apply defaults upstream)."""
    rows = await conn.execute(select(settings.c.id, settings.c.value).where(settings.c.id.in_(list(ids))))
    return {row.id: row.value for row in rows}


async def write_settings(conn: AsyncConnection, values: Mapping[str, Any]) -> None:
    """Insert or replace each setting, in the caller's transaction."""
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
