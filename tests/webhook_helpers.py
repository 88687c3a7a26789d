"""Steps shared by the webhook tests: configure the CRM integration, read the delivery log."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from sqlalchemy import select

from omnihook.storage.database import Database
from omnihook.storage.tables import deliveries

ALL_TOGGLES = {
    "LivechatWebhookOnStart": True,
    "LivechatWebhookOnClose": True,
    "LivechatWebhookOnChatTaken": True,
    "LivechatWebhookOnChatQueued": True,
    "LivechatWebhookOnForward": True,
    "LivechatWebhookOnOfflineMsg": True,
    "LivechatWebhookOnVisitorMessage": True,
    "LivechatWebhookOnAgentMessage": True,
}


async def configure(client: httpx.AsyncClient, admin: dict[str, str], **settings: Any) -> None:
    response = await client.post("/api/v1/omnichannel/integrations", json=settings, headers=admin)
    assert response.status_code == 200, response.text


async def delivery_rows(database_url: str) -> list[Any]:
    db = Database(database_url, pool_size=1)
    try:
        async with db.engine.connect() as conn:
            return list((await conn.execute(select(deliveries).order_by(deliveries.c.seq))).all())
    finally:
        await db.dispose()


async def settled(database_url: str, count: int, *, within: float = 30.0) -> list[Any]:
    """The deliveries once `count` of them exist and none is pending (fails after `within` s)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        rows = await delivery_rows(database_url)
        if len(rows) >= count and all(r.status != "pending" for r in rows):
            return rows
        if loop.time() > deadline:
            states = [(r.event_type, r.status, r.attempts) for r in rows]
            raise AssertionError(f"deliveries did not settle: {states}")
        await asyncio.sleep(0.05)
