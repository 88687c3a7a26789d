"""Old delivered deliveries are pruned with their attempts; dead and pending ones are kept."""

from __future__ import annotations

from datetime import timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import Table, func, select

from omnihook.domain.clock import utcnow
from omnihook.storage.database import Database
from omnihook.storage.tables import delivery_attempts, webhook_events
from omnihook.webhooks.retention import prune_delivered
from tests.livechat_helpers import open_chat, visitor_says
from tests.receiver import Receiver
from tests.webhook_helpers import configure, delivery_rows, settled


async def _count(db: Database, table: Table) -> int:
    async with db.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


async def test_delivered_rows_older_than_the_retention_go_and_dead_ones_stay(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str], receiver: Receiver, database_url: str
) -> None:
    await configure(
        client,
        admin,
        LivechatWebhookUrl=receiver.url,
        LivechatWebhookOnVisitorMessage=True,
        LivechatWebhookRetries=0,
    )
    receiver.statuses = [200, 500]
    rid = await open_chat(client, "tok-1", "delivered")
    await settled(database_url, 1)
    await visitor_says(client, "tok-1", rid, "dead")
    rows = await settled(database_url, 2)
    assert [r.status for r in rows] == ["delivered", "dead"]
    db: Database = app.state.db

    assert await prune_delivered(db, before=utcnow() - timedelta(days=1)) == 0  # nothing old enough yet
    assert await prune_delivered(db, before=utcnow() + timedelta(seconds=1), batch=1) == 1

    [kept] = await delivery_rows(database_url)
    assert kept.status == "dead"
    assert await _count(db, delivery_attempts) == 1  # the dead one's attempt
    assert await _count(db, webhook_events) == 1  # the dead one's payload, still replayable
