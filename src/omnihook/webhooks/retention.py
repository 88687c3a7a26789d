"""Pruning: delivered deliveries older than the retention period go, with their attempts and events.

Dead and pending deliveries are never pruned (they are what the log is for). Deletes run in small
batches so that SQLite's single writer is never held for long.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, exists, select

from omnihook.storage.database import Database
from omnihook.storage.tables import deliveries, delivery_attempts, webhook_events

BATCH = 2000


async def prune_delivered(db: Database, *, before: datetime, batch: int = BATCH) -> int:
    """Delete deliveries delivered before `before` (and what only they used); returns how many."""
    total = 0
    while True:
        async with db.write_lock(), db.engine.begin() as conn:
            rows = await conn.execute(
                select(deliveries.c.id, deliveries.c.event_id)
                .where(deliveries.c.status == "delivered", deliveries.c.delivered_at < before)
                .limit(batch)
            )
            found = rows.all()
            if not found:
                return total
            ids = [r.id for r in found]
            await conn.execute(delete(delivery_attempts).where(delivery_attempts.c.delivery_id.in_(ids)))
            await conn.execute(delete(deliveries).where(deliveries.c.id.in_(ids)))
            events = {r.event_id for r in found}
            await conn.execute(
                delete(webhook_events).where(
                    webhook_events.c.id.in_(events),
                    ~exists().where(deliveries.c.event_id == webhook_events.c.id),
                )
            )
            total += len(ids)
