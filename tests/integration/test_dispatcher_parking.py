"""Deliveries queued behind a head that waits for its retry wait with it, so claims stop walking them
(found by the backlog benchmark: each poll stepped over every blocked row again)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.livechat_helpers import open_chat, visitor_says
from tests.receiver import Receiver
from tests.webhook_helpers import configure, delivery_rows


async def _parked(database_url: str, count: int, *, within: float = 30.0) -> list[Any]:
    """The deliveries once `count` exist and every one behind the head has the head's retry time."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        rows = await delivery_rows(database_url)
        head_failed = len(rows) >= count and rows[0].attempts >= 1
        if head_failed and all(r.next_attempt_at == rows[0].next_attempt_at for r in rows[1:]):
            return rows
        assert asyncio.get_running_loop().time() < deadline, [(r.attempts, r.next_attempt_at) for r in rows]
        await asyncio.sleep(0.05)


async def _head_failure_recorded(database_url: str, *, within: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not (rows := await delivery_rows(database_url)) or rows[0].attempts < 1:
        assert asyncio.get_running_loop().time() < deadline, "the head's failure was never recorded"
        await asyncio.sleep(0.02)


async def test_messages_behind_a_failed_head_wait_for_its_retry_and_then_go_in_order(
    client: httpx.AsyncClient, admin: dict[str, str], receiver: Receiver, database_url: str
) -> None:
    await configure(
        client,
        admin,
        LivechatWebhookUrl=receiver.url,
        LivechatWebhookOnVisitorMessage=True,
        LivechatWebhookRetryDelay=4000,
    )
    receiver.statuses = [503]
    rid = await open_chat(client, "tok-1", "m0")
    # m0 fails once; once that is recorded, the next messages join its queue while it waits to retry
    await receiver.arrived(1)
    await _head_failure_recorded(database_url)
    for n in range(1, 4):
        await visitor_says(client, "tok-1", rid, f"m{n}")
    head, *behind = await _parked(database_url, 4)
    assert head.status == "pending" and head.last_status_code == 503
    assert all(r.status == "pending" and r.attempts == 0 for r in behind)
    # once the head is retried and delivered, the rest follow in order
    texts = [r.json()["messages"][0]["msg"] for r in await receiver.arrived(5)]
    assert texts == ["m0", "m0", "m1", "m2", "m3"]
