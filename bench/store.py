"""Reading omnihook's database directly: the payloads it rendered (for the baselines) and its backlog."""

from __future__ import annotations

from sqlalchemy import func, select

from omnihook.storage.database import Database
from omnihook.storage.tables import deliveries, webhook_events


async def rendered_payloads(url: str, endpoint_id: str | None = None) -> list[bytes]:
    """The bodies omnihook renders for its deliveries, in the order they were written."""
    db = Database(url, pool_size=1)
    try:
        query = (
            select(webhook_events.c.payload)
            .select_from(deliveries.join(webhook_events, deliveries.c.event_id == webhook_events.c.id))
            .order_by(deliveries.c.seq)
        )
        if endpoint_id is not None:
            query = query.where(deliveries.c.endpoint_id == endpoint_id)
        async with db.engine.connect() as conn:
            return [row.payload.encode() for row in await conn.execute(query)]
    finally:
        await db.dispose()


async def delivery_counts(url: str) -> dict[str, int]:
    """How many deliveries are in each status."""
    db = Database(url, pool_size=1)
    try:
        async with db.engine.connect() as conn:
            rows = await conn.execute(select(deliveries.c.status, func.count()).group_by(deliveries.c.status))
            return {row[0]: int(row[1]) for row in rows}
    finally:
        await db.dispose()
