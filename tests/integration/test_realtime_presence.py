"""Presence and the end of a login: agents who leave stop getting chats, live connections end with
their login token."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from omnihook.app import create_app
from omnihook.config import Settings
from omnihook.domain.clock import utcnow
from omnihook.livechat.accounts import hash_token
from omnihook.storage.tables import auth_tokens
from tests.conftest import ADMIN_PASSWORD, ADMIN_USERNAME, login_headers
from tests.ddp_client import WAIT, DDPClient, serving
from tests.livechat_helpers import AGENT_PASSWORD, create_agent, open_chat, room_info

GRACE_SECONDS = 0.5


@pytest.fixture
async def app(database_url: str) -> AsyncIterator[FastAPI]:
    settings = Settings(
        database_url=database_url,
        admin_username=ADMIN_USERNAME,
        admin_password=ADMIN_PASSWORD,
        agent_offline_grace_seconds=GRACE_SECONDS,
        realtime_login_recheck_seconds=0.2,
    )
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def address(app: FastAPI) -> AsyncIterator[str]:
    async with serving(app) as running:
        yield running


async def statuses(client: httpx.AsyncClient, admin: dict[str, str]) -> dict[str, str]:
    response = await client.get("/api/v1/livechat/users/agent", headers=admin)
    assert response.status_code == 200, response.text
    return {u["username"]: u["statusLivechat"] for u in response.json()["users"]}


async def until_not_available(client: httpx.AsyncClient, admin: dict[str, str], username: str) -> None:
    """Waits for the state (never for a time): the grace period and a sweep must pass first."""
    for _ in range(int(WAIT / 0.05)):
        if (await statuses(client, admin))[username] == "not-available":
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{username} stayed available")


async def test_an_agent_whose_last_live_connection_is_gone_stops_getting_chats_and_the_others_keep_them(
    client: httpx.AsyncClient, admin: dict[str, str], address: str
) -> None:
    on_socket = await create_agent(client, admin, "agent.socket")
    on_stream = await create_agent(client, admin, "agent.stream")
    leaving = await create_agent(client, admin, "agent.leaving")
    await create_agent(client, admin, "agent.rest")  # never opens a live connection: a bot, say
    url = f"ws://{address}/websocket"
    params = {"userId": on_stream["X-User-Id"], "authToken": on_stream["X-Auth-Token"]}
    async with (
        DDPClient.open(url) as console,
        httpx.AsyncClient(base_url=f"http://{address}", timeout=WAIT) as http,
        http.stream("GET", "/api/v1/omnihook/stream/agent", params=params) as stream,
    ):
        assert stream.status_code == 200
        lines = stream.aiter_lines()  # kept: dropping the iterator would close the stream
        assert (await anext(lines)).startswith("retry:")
        assert "result" in await console.call("login", {"resume": on_socket["X-Auth-Token"]})
        async with DDPClient.open(url) as gone:
            assert "result" in await gone.call("login", {"resume": leaving["X-Auth-Token"]})
        await until_not_available(client, admin, "agent.leaving")
        # The grace period has passed for everyone since: the ones still connected are available.
        found = await statuses(client, admin)
        assert found["agent.socket"] == found["agent.stream"] == found["agent.rest"] == "available"
        for n in range(3):
            rid = await open_chat(client, f"visitor-{n}")
            assert (await room_info(client, admin, rid))["servedBy"]["username"] != "agent.leaving"


async def test_live_connections_opened_with_a_login_token_end_when_it_is_logged_out_and_no_others(
    client: httpx.AsyncClient, admin: dict[str, str], address: str
) -> None:
    ended = await create_agent(client, admin, "agent.smith")
    kept = await login_headers(client, "agent.smith", AGENT_PASSWORD)  # a second session
    url = f"ws://{address}/websocket"
    params = {"userId": ended["X-User-Id"], "authToken": ended["X-Auth-Token"]}
    async with (
        DDPClient.open(url) as revoked_socket,
        DDPClient.open(url) as other_socket,
        httpx.AsyncClient(base_url=f"http://{address}", timeout=WAIT) as http,
        http.stream("GET", "/api/v1/omnihook/stream/agent", params=params) as stream,
    ):
        lines = stream.aiter_lines()
        assert (await anext(lines)).startswith("retry:")
        assert "result" in await revoked_socket.call("login", {"resume": ended["X-Auth-Token"]})
        assert "result" in await other_socket.call("login", {"resume": kept["X-Auth-Token"]})
        assert (await client.post("/api/v1/logout", headers=ended)).status_code == 200
        assert await revoked_socket.closed() == 1008
        rest: list[Any] = [line async for line in lines if line.startswith("data:")]
        assert all("tokens.revoked" not in line for line in rest)  # the stream simply ended
        assert await other_socket.ping("still") == {"msg": "pong", "id": "still"}


async def test_a_socket_whose_login_token_expires_is_closed(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str], address: str
) -> None:
    agent = await create_agent(client, admin, "agent.smith")
    async with DDPClient.open(f"ws://{address}/websocket") as console:
        assert "result" in await console.call("login", {"resume": agent["X-Auth-Token"]})
        # The login is as old as Accounts_LoginExpiration (90 days) allows, and a little more.
        async with app.state.db.transaction() as uow:
            await uow.conn.execute(
                update(auth_tokens)
                .where(auth_tokens.c.token_hash == hash_token(agent["X-Auth-Token"]))
                .values(created_at=utcnow() - timedelta(days=91))
            )
        assert await console.closed() == 1008
