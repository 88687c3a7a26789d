"""Deliveries set up in a real database as the outbox and the queue store leave them, for the engine's tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import insert, select

from omnihook.domain.clock import utcnow
from omnihook.storage.database import Database
from omnihook.storage.tables import deliveries, webhook_endpoints, webhook_events
from omnihook.webhooks.queue_store import Claimed

OWNER = "test-dispatcher"
LEASE = timedelta(seconds=30)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url, pool_size=2)
    now = utcnow()
    async with database.engine.begin() as conn:
        await conn.execute(
            insert(webhook_endpoints).values(
                id="e1",
                name="e1",
                url="https://e1.example/hook",
                format="rocketchat",
                enabled=True,
                event_types=["Message"],
                timeout_ms=5000,
                max_retries=3,
                retry_delay_ms=10_000,
                max_in_flight=4,
                ordered=True,
                created_at=now,
                updated_at=now,
            )
        )
        await conn.execute(
            insert(webhook_events).values(
                id="ev1", type="Message", room_id=None, payload="{}", created_at=now
            )
        )
    yield database
    await database.dispose()


async def leased(
    db: Database, count: int, *, owner: str | None = OWNER, room: str | None = None, key_prefix: str = "msg"
) -> list[Claimed]:
    """`count` deliveries to endpoint e1, leased by `owner` (None: pending and due), one room or each its own."""
    now = utcnow()
    rows = [
        {
            "id": f"{key_prefix}_{n}",
            "event_id": "ev1",
            "endpoint_id": "e1",
            "event_type": "Message",
            "room_id": room,
            "ordering_key": room or f"{key_prefix}_{n}",
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now + LEASE if owner else now,
            "lease_until": now + LEASE if owner else None,
            "lease_owner": owner,
            "created_at": now,
            "updated_at": now,
        }
        for n in range(count)
    ]
    async with db.engine.begin() as conn:
        await conn.execute(insert(deliveries), rows)
        seqs = {r.id: r.seq for r in await conn.execute(select(deliveries.c.id, deliveries.c.seq))}
    return [
        Claimed(
            seq=seqs[f"{key_prefix}_{n}"],
            id=f"{key_prefix}_{n}",
            endpoint_id="e1",
            event_type="Message",
            room_id=room,
            ordering_key=room or f"{key_prefix}_{n}",
            attempts=0,
            budget_start=0,
            lease_until=now + LEASE,
            event_created_at=now,
            payload="{}",
        )
        for n in range(count)
    ]
