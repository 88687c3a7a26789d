"""Live streams for the pages: committed chat events reach the right subscribers; streams check
who is asking before they open."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from omnihook.app import create_app
from omnihook.config import Settings
from omnihook.livechat.live_events import Broker, Subscription
from tests import databases
from tests.conftest import login_headers


async def open_room(client: httpx.AsyncClient, token: str, name: str) -> str:
    visitor = {"visitor": {"token": token, "name": name, "email": f"{token}@example.com"}}
    assert (await client.post("/api/v1/livechat/visitor", json=visitor)).status_code == 200
    response = await client.get("/api/v1/livechat/room", params={"token": token})
    assert response.status_code == 200, response.text
    rid: str = response.json()["room"]["_id"]
    return rid


async def next_note(subscription: Subscription) -> dict[str, Any]:
    """The next note (on PostgreSQL they come back through LISTEN, a moment after the commit)."""
    return await asyncio.wait_for(subscription.queue.get(), timeout=30)


async def messages_heard_until(subscription: Subscription, rid: str) -> list[str]:
    """The rooms of the message notes heard, up to the first one of `rid` (other kinds skipped)."""
    rooms: list[str] = []
    while not rooms or rooms[-1] != rid:
        note = await next_note(subscription)
        if note["kind"] == "message.sent":
            rooms.append(note["roomId"])
    return rooms


async def visitor_says(client: httpx.AsyncClient, token: str, rid: str, msg: str) -> int:
    body = {"token": token, "rid": rid, "msg": msg}
    return (await client.post("/api/v1/livechat/message", json=body)).status_code


async def test_a_visitor_subscription_hears_its_own_room_after_each_commit_and_no_other(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    broker: Broker = app.state.live
    await broker.ready()
    rid_a = await open_room(client, "token-a", "Ann")
    rid_b = await open_room(client, "token-b", "Ben")
    with broker.subscribe(rid_a) as ann, broker.subscribe() as staff:
        assert await visitor_says(client, "token-b", rid_b, "hello from b") == 200
        assert await visitor_says(client, "token-a", rid_a, "hello from a") == 200
        # Notes arrive in commit order: once a's is heard, b's would have come first.
        assert await messages_heard_until(ann, rid_a) == [rid_a]
        assert await messages_heard_until(staff, rid_a) == [rid_b, rid_a]


async def test_a_refused_change_tells_nobody(app: FastAPI, client: httpx.AsyncClient) -> None:
    broker: Broker = app.state.live
    await broker.ready()
    rid_a = await open_room(client, "token-a", "Ann")
    rid_b = await open_room(client, "token-b", "Ben")
    with broker.subscribe() as staff:
        refused = await visitor_says(client, "token-b", rid_a, "not my room")
        assert 400 <= refused < 500
        assert await visitor_says(client, "token-b", rid_b, "my room") == 200
        # Only the accepted message is heard of.
        assert await messages_heard_until(staff, rid_b) == [rid_b]


@pytest.mark.postgres
async def test_on_postgresql_a_change_made_through_one_server_reaches_the_streams_of_another(
    postgres_session_url: str,
) -> None:
    await databases.truncate_all(postgres_session_url)
    settings = Settings(
        database_url=postgres_session_url, admin_username="admin", admin_password="admin-pass-1"
    )
    first, second = create_app(settings), create_app(settings)
    async with first.router.lifespan_context(first), second.router.lifespan_context(second):
        transport = httpx.ASGITransport(app=first)
        async with httpx.AsyncClient(transport=transport, base_url="http://first.test") as client:
            watcher: Broker = second.state.live
            await watcher.ready()
            with watcher.subscribe() as staff:
                rid = await open_room(client, "token-a", "Ann")
                heard = [await next_note(staff)]
                while heard[-1]["kind"] != "room.started":
                    heard.append(await next_note(staff))
                assert heard[-1]["roomId"] == rid
                assert await visitor_says(client, "token-a", rid, "hello") == 200
                while (note := await next_note(staff))["kind"] != "message.sent":
                    pass
                assert note["roomId"] == rid


async def test_the_agent_stream_refuses_missing_forged_and_non_agent_credentials(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    url = "/api/v1/omnihook/stream/agent"
    assert (await client.get(url)).status_code == 400
    forged = {"userId": admin["X-User-Id"], "authToken": "forged"}
    assert (await client.get(url, params=forged)).status_code == 401
    plain = {"username": "plain", "email": "plain@example.com", "name": "Plain", "password": "password-1"}
    created = await client.post("/api/v1/users.create", json={**plain, "roles": []}, headers=admin)
    assert created.status_code == 200, created.text
    headers = await login_headers(client, "plain", "password-1")
    params = {"userId": headers["X-User-Id"], "authToken": headers["X-Auth-Token"]}
    refused = await client.get(url, params=params)
    assert refused.status_code == 403
    assert refused.json()["success"] is False


async def test_the_visitor_stream_refuses_a_room_that_is_not_the_visitors(client: httpx.AsyncClient) -> None:
    rid = await open_room(client, "token-a", "Ann")
    await open_room(client, "token-b", "Ben")
    url = "/api/v1/omnihook/stream/visitor"
    refused = await client.get(url, params={"token": "token-b", "rid": rid})
    assert refused.status_code == 404
    assert refused.json()["error"] == "invalid-room"
    assert (await client.get(url, params={"token": "token-a"})).status_code == 400


@pytest.mark.postgres
async def test_on_postgresql_streams_are_told_to_reload_when_listen_reconnects(
    postgres_session_url: str,
) -> None:
    await databases.truncate_all(postgres_session_url)
    settings = Settings(
        database_url=postgres_session_url, admin_username="admin", admin_password="admin-pass-1"
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        broker: Broker = app.state.live
        await broker.ready()
        with broker.subscribe("some-room") as visitor:
            # The database drops the LISTEN connection (a restart, a failover).
            killer = await asyncpg.connect(postgres_session_url)
            try:
                killed = await killer.fetchval(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    " AND query LIKE '%omnihook_live%'"
                )
            finally:
                await killer.close()
            assert killed == 1
            # Notes sent meanwhile are lost, so every stream is told to reload, once LISTEN is back.
            assert (await next_note(visitor))["kind"] == "resync"
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://omnihook.test") as client:
                with broker.subscribe() as staff:
                    rid = await open_room(client, "token-a", "Ann")
                    assert await visitor_says(client, "token-a", rid, "still live") == 200
                    assert await messages_heard_until(staff, rid) == [rid]
