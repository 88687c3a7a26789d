"""Two `omnihook serve` processes on one PostgreSQL serve one chat: the visitor's socket on one, the
agent on the other."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests import databases
from tests.conftest import ADMIN_PASSWORD, ADMIN_USERNAME, login_headers
from tests.ddp_client import DDPClient, visitor_args
from tests.livechat_helpers import agent_says, create_agent, open_chat
from tests.processes import free_port, omnihook_env, start_server

pytestmark = pytest.mark.postgres


@pytest.fixture
async def two_servers(postgres_session_url: str, tmp_path: Path) -> AsyncIterator[tuple[int, int]]:
    await databases.truncate_all(postgres_session_url)
    env = omnihook_env(postgres_session_url)
    ports = free_port(), free_port()
    first = await start_server(env, ports[0], tmp_path / "a.log")
    try:
        second = await start_server(env, ports[1], tmp_path / "b.log")
        try:
            yield ports
        finally:
            second.stop()
    finally:
        first.stop()


async def test_a_visitor_on_one_server_hears_the_agent_who_answers_and_types_on_another(
    two_servers: tuple[int, int],
) -> None:
    port_a, port_b = two_servers
    async with (
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port_a}") as server_a,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port_b}") as server_b,
    ):
        admin = await login_headers(server_b, ADMIN_USERNAME, ADMIN_PASSWORD)
        agent = await create_agent(server_b, admin, "agent.smith")
        rid = await open_chat(server_a, "visitor-1", "hello")
        async with (
            DDPClient.open(f"ws://127.0.0.1:{port_a}/websocket") as widget,
            DDPClient.open(f"ws://127.0.0.1:{port_b}/websocket") as console,
        ):
            assert "error" not in await widget.call("livechat:setUpConnection", {"token": "visitor-1"})
            for stream, key in (("stream-room-messages", rid), ("stream-notify-room", f"{rid}/typing")):
                assert (await widget.sub(stream, key, visitor_args("visitor-1")))["msg"] == "ready"
            assert "result" in await console.call("login", {"resume": agent["X-Auth-Token"]})
            typed = await console.call("stream-notify-room", f"{rid}/typing", "agent.smith", True)
            assert typed.get("error") is None, typed
            assert await widget.event("stream-notify-room", f"{rid}/typing") == ["agent.smith", True]
            sent = await agent_says(server_b, agent, rid, "Hi, how can I help?")
            [message] = await widget.event("stream-room-messages", rid)
            assert (message["_id"], message["msg"]) == (sent["_id"], "Hi, how can I help?")
