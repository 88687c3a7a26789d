"""The realtime API's limits, on a real socket: a client over them gets DDP errors, never a crash, and
keeps its connection."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from omnihook.app import create_app
from omnihook.config import Settings
from tests.conftest import ADMIN_PASSWORD, ADMIN_USERNAME
from tests.ddp_client import DDPClient, serving, visitor_args
from tests.livechat_helpers import open_chat


@pytest.fixture
async def app(database_url: str) -> AsyncIterator[FastAPI]:
    settings = Settings(
        database_url=database_url,
        admin_username=ADMIN_USERNAME,
        admin_password=ADMIN_PASSWORD,
        realtime_max_subscriptions=2,
        realtime_max_frame_bytes=2000,
    )
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def ws_url(app: FastAPI) -> AsyncIterator[str]:
    async with serving(app) as address:
        yield f"ws://{address}/websocket"


async def test_a_socket_gets_as_many_subscriptions_as_allowed_then_nosub_and_one_more_after_an_unsub(
    client: httpx.AsyncClient, ws_url: str
) -> None:
    rid = await open_chat(client, "visitor-1")
    args = visitor_args("visitor-1")
    async with DDPClient.open(ws_url) as widget:
        first = await widget.sub("stream-room-messages", rid, args)
        assert (await widget.sub("stream-livechat-room", rid, args))["msg"] == "ready"
        refused = await widget.sub("stream-notify-room", f"{rid}/typing", args)
        assert (refused["msg"], refused["error"]["error"]) == ("nosub", "error-too-many-subscriptions")
        await widget.send({"msg": "unsub", "id": first["subs"][0]})
        assert (await widget.sub("stream-notify-room", f"{rid}/typing", args))["msg"] == "ready"


async def test_an_oversized_or_malformed_frame_is_answered_with_an_error_and_the_socket_goes_on(
    client: httpx.AsyncClient, ws_url: str
) -> None:
    rid = await open_chat(client, "visitor-1")
    async with DDPClient.open(ws_url) as widget:
        big = {"msg": "method", "id": "big", "method": "stream-notify-room", "params": ["x" * 3000]}
        await widget.send(big)
        error = await widget.other()
        assert error["msg"] == "error" and "2000 bytes" in error["reason"]
        await widget.send("{this is not json")
        assert (await widget.other())["msg"] == "error"
        assert await widget.ping("after") == {"msg": "pong", "id": "after"}
        assert (await widget.sub("stream-room-messages", rid, visitor_args("visitor-1")))["msg"] == "ready"
