"""The README's walk-through, played through the API on both routing methods."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select

from omnihook.storage.database import Database
from omnihook.storage.tables import domain_events
from tests.livechat_helpers import (
    agent_says,
    create_agent,
    open_room,
    register_visitor,
    room_info,
    set_routing,
    take_from_queue,
    visitor_says,
)


async def _event_kinds(database_url: str, room_id: str) -> list[str]:
    db = Database(database_url, pool_size=1)
    try:
        async with db.engine.connect() as conn:
            rows = await conn.execute(
                select(domain_events.c.kind)
                .where(domain_events.c.room_id == room_id)
                .order_by(domain_events.c.seq)
            )
            return [r.kind for r in rows]
    finally:
        await db.dispose()


@pytest.mark.parametrize("routing", ["Manual_Selection", "Auto_Selection"])
async def test_a_whole_chat_runs_end_to_end(
    client: httpx.AsyncClient, admin: dict[str, str], database_url: str, routing: str
) -> None:
    await set_routing(client, admin, routing)
    alice = await create_agent(client, admin, "alice")
    bob = await create_agent(client, admin, "bob")

    # A visitor registers, opens a room and writes.
    visitor = await register_visitor(client, "visitor-token-1", "James", email="james@example.com")
    assert visitor["username"].startswith("guest-")
    room = await open_room(client, "visitor-token-1")
    rid = room["_id"]
    await visitor_says(client, "visitor-token-1", rid, "Hi, I need help")

    # An agent takes it (Manual) or has been given it (Auto), and answers.
    if routing == "Manual_Selection":
        assert room["status"] == "queued"
        assert "servedBy" not in room
        await take_from_queue(client, alice, rid)
        agent, other = alice, bob
    else:
        assert room["status"] == "served"
        agent, other = (alice, bob) if room["servedBy"]["username"] == "alice" else (bob, alice)
    served = await room_info(client, agent, rid)
    assert served["servedBy"]["_id"] == agent["X-User-Id"]
    answer = await agent_says(client, agent, rid, "How can I help you today?")
    assert answer["agentId"] == agent["X-User-Id"]

    # It forwards the chat to the other agent, who closes it.
    forwarded = await client.post(
        "/api/v1/livechat/room.forward",
        json={"roomId": rid, "userId": other["X-User-Id"], "comment": "billing question"},
        headers=agent,
    )
    assert forwarded.status_code == 200, forwarded.text
    assert (await room_info(client, other, rid))["servedBy"]["_id"] == other["X-User-Id"]
    await agent_says(client, other, rid, "I am from billing")
    closed = await client.post(
        "/api/v1/livechat/room.closeByUser",
        json={"rid": rid, "comment": "Thank you for visiting", "tags": ["billing"]},
        headers=other,
    )
    assert closed.status_code == 200, closed.text

    final = await room_info(client, admin, rid)
    assert final["open"] is False
    assert final["closer"] == "user"
    assert final["closedBy"]["_id"] == other["X-User-Id"]
    assert final["tags"] == ["billing"]

    history = await client.get(
        f"/api/v1/livechat/messages.history/{rid}", params={"token": "visitor-token-1"}
    )
    texts = [m["msg"] for m in reversed(history.json()["messages"])]
    assert texts == [
        "Hi, I need help",
        "How can I help you today?",
        "billing question",
        "I am from billing",
        "Thank you for visiting",
    ]
    closing = history.json()["messages"][0]
    assert closing["closingMessage"] is True
    assert closing["t"] == "livechat-close"

    if routing == "Manual_Selection":
        opening = ["room.started", "room.queued", "message.sent", "room.taken"]
    else:
        opening = ["room.started", "room.taken", "message.sent"]
    assert await _event_kinds(database_url, rid) == [
        *opening,
        "message.sent",
        "room.taken",  # as in Rocket.Chat, the new agent takes the chat, then the forward is told
        "room.forwarded",
        "message.sent",
        "room.closed",
    ]
